//! `cargo lab docs`: builds the book in `docs/` with mdBook, then checks what mdBook does not.
//!
//! The book includes real code from the crates (`{{#include ../../crates/x/src/y.rs:anchor}}`),
//! so a renamed file or a deleted `// ANCHOR:` comment must fail CI rather than ship a chapter
//! with a hole in it. What mdBook 0.5 does on its own, measured:
//! - a chapter listed in `SUMMARY.md` but missing fails the build (`create-missing = false`);
//! - an `{{#include}}` of a missing file only logs `ERROR` and leaves the directive in the page,
//!   and the build still exits 0;
//! - an include of a missing anchor silently includes nothing;
//! - links between pages and to `#fragments` are not checked at all.
//!
//! So after `mdbook build` we (1) fail on any `ERROR` or `WARN` line in its log, (2) resolve
//! every include in the sources ourselves, file and anchor, and (3) follow every relative `href`
//! and `src` in the built HTML to a file that exists and, for `#fragment`, to an element with
//! that `id`. The production alternative is a link-checking backend such as `mdbook-linkcheck`
//! (not yet released for mdBook 0.5) or `lychee`; this one is small, offline and has tests.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The mdBook release CI installs (`.ci/run`) and this checker was measured against.
pub const MDBOOK_VERSION: &str = "0.5.4";

/// One thing wrong with the book, where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

/// The book next to this crate: `<workspace>/docs`.
pub fn default_book_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

/// Builds the book in `book` (a directory with `book.toml`, `src/` and, after the build,
/// `book/`) and checks it. Prints every problem; fails if there is any.
pub fn run(book: &Path) -> crate::Result<()> {
    let book = book
        .canonicalize()
        .map_err(|e| format!("no book at {}: {e}", book.display()))?;
    let out = book.join(build_dir(&book));
    let mut problems = check_sources(&book.join("src"))?;

    // mdBook 0.5 writes over its build directory without emptying it, so the page of a
    // chapter that was removed or renamed would stay, and links to it would look fine.
    remove_old_build(&out)?;
    let log = build(&book)?;
    problems.extend(problems_in_log(&log, &book.join("book.toml")));

    // The Chinese edition: its own book in `zh/`, built into `zh/` under the English one so
    // the two link to each other, and held to the same skeleton, chapter by chapter.
    let zh = book.join("zh");
    let editions = if zh.join("book.toml").is_file() {
        problems.extend(check_sources(&zh.join("src"))?);
        let log = build(&zh)?;
        problems.extend(problems_in_log(&log, &zh.join("book.toml")));
        problems.extend(crate::parity::check(&book.join("src"), &zh.join("src"))?);
        println!("docs: parity, English | 中文:");
        let summary = std::fs::read_to_string(book.join("src/SUMMARY.md"))?;
        for chapter in crate::parity::chapters(&summary) {
            // A chapter missing in one edition is already a problem above.
            if let Ok(report) = crate::parity::report(&book.join("src"), &zh.join("src"), &chapter)
            {
                print!("{report}");
            }
        }
        "both editions"
    } else {
        println!("docs: no Chinese edition at {}", zh.display());
        "the English edition"
    };
    // After both builds: links from either edition into the other resolve.
    problems.extend(check_html(&out)?);

    if problems.is_empty() {
        println!(
            "docs: built {editions} in {} and checked includes, anchors, links and parity",
            out.display()
        );
        return Ok(());
    }
    // The same broken link appears in its chapter and again in print.html, sometimes several
    // times: say each once, with a count.
    let mut counted: Vec<(Problem, usize)> = Vec::new();
    for problem in problems {
        match counted.iter_mut().find(|(seen, _)| *seen == problem) {
            Some((_, count)) => *count += 1,
            None => counted.push((problem, 1)),
        }
    }
    for (problem, count) in &counted {
        let times = if *count > 1 {
            format!(" ({count} times)")
        } else {
            String::new()
        };
        eprintln!("docs: {problem}{times}");
    }
    Err(format!("{} problem(s) in the book", counted.len()).into())
}

/// The build directory `book.toml` names (`[build] build-dir`), `book` by default.
pub fn build_dir(book: &Path) -> String {
    let toml = std::fs::read_to_string(book.join("book.toml")).unwrap_or_default();
    toml.lines()
        .filter_map(|line| line.trim().strip_prefix("build-dir"))
        .filter_map(|rest| rest.trim_start().strip_prefix('='))
        .map(|value| value.trim().trim_matches('"').to_string())
        .next()
        .unwrap_or_else(|| "book".to_string())
}

/// Deletes a previous build, but only a directory that looks like one (it has mdBook's
/// `index.html`), so a wrong `--book` or `build-dir` cannot delete anything else.
fn remove_old_build(out: &Path) -> crate::Result<()> {
    if out.join("index.html").is_file() {
        std::fs::remove_dir_all(out)
            .map_err(|e| format!("cannot remove the old build {}: {e}", out.display()))?;
    }
    Ok(())
}

/// Runs `mdbook build BOOK`, echoes its log and returns it. A failed build is an error.
fn build(book: &Path) -> crate::Result<String> {
    if let Ok(version) = Command::new("mdbook").arg("--version").output() {
        let version = String::from_utf8_lossy(&version.stdout);
        if !version.contains(MDBOOK_VERSION) {
            println!(
                "note: {} found; the book and this checker were tested with mdbook v{MDBOOK_VERSION}",
                version.trim()
            );
        }
    }
    println!("$ mdbook build {}", book.display());
    let output = Command::new("mdbook")
        .arg("build")
        .arg(book)
        .output()
        .map_err(|e| {
            format!(
                "cannot run mdbook ({e}); install it with \
                 `cargo install mdbook --locked --version {MDBOOK_VERSION}`"
            )
        })?;
    // mdBook logs to stderr; keep both, in case a version moves its messages.
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    print!("{log}");
    if !output.status.success() {
        return Err(format!("mdbook build failed ({})", output.status).into());
    }
    Ok(log)
}

/// Lines of mdBook's log that report an error or a warning, each as a problem.
///
/// mdBook carries on after a broken include (it logs `ERROR` and keeps the directive as
/// text), so its exit status alone would let one through.
pub fn problems_in_log(log: &str, book_toml: &Path) -> Vec<Problem> {
    log.lines()
        .filter(|line| {
            line.split_whitespace()
                .any(|word| matches!(word, "ERROR" | "WARN" | "[ERROR]" | "[WARN]"))
        })
        .map(|line| Problem {
            file: book_toml.to_path_buf(),
            message: format!("mdbook: {}", line.trim()),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Includes and anchors, checked in the Markdown sources.

/// What an `{{#include}}` (or `{{#rustdoc_include}}`) names after its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The whole file.
    All,
    /// `path:name`: the lines between `ANCHOR: name` and `ANCHOR_END: name`.
    Anchor(String),
    /// `path:N`, `path:N:M`, `path::M`, `path:N:`: a range of lines (1-based).
    Lines {
        start: Option<usize>,
        end: Option<usize>,
    },
}

/// One include directive found in a chapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// The line of the chapter it is on (1-based), for the message.
    pub line: usize,
    /// The path as written, relative to the chapter's directory.
    pub path: String,
    pub selector: Selector,
}

/// Finds the include directives in a chapter's Markdown, as mdBook's `links` preprocessor
/// does: anywhere in the text (code blocks too), except when escaped as `\{{#include ...}}`.
pub fn find_includes(markdown: &str) -> Vec<Include> {
    let mut found = Vec::new();
    for (index, line) in markdown.lines().enumerate() {
        let mut rest = line;
        let mut offset = 0;
        while let Some(at) = rest.find("{{#") {
            let absolute = offset + at;
            let escaped = absolute > 0 && line.as_bytes()[absolute - 1] == b'\\';
            let after = &rest[at + 3..];
            let Some(close) = after.find("}}") else {
                break;
            };
            let body = after[..close].trim();
            if !escaped {
                if let Some(args) = body
                    .strip_prefix("include ")
                    .or_else(|| body.strip_prefix("rustdoc_include "))
                {
                    found.push(parse_include(index + 1, args.trim()));
                }
            }
            let consumed = at + 3 + close + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
    }
    found
}

fn parse_include(line: usize, args: &str) -> Include {
    let (path, selector) = match args.split_once(':') {
        None => (args, Selector::All),
        Some((path, sel)) => (path, parse_selector(sel)),
    };
    Include {
        line,
        path: path.trim().to_string(),
        selector,
    }
}

fn parse_selector(sel: &str) -> Selector {
    let sel = sel.trim();
    let number = |s: &str| s.trim().parse::<usize>().ok();
    match sel.split_once(':') {
        Some((start, end)) if start.trim().is_empty() || number(start).is_some() => {
            Selector::Lines {
                start: number(start),
                end: number(end),
            }
        }
        _ => match number(sel) {
            Some(n) => Selector::Lines {
                start: Some(n),
                end: Some(n),
            },
            None if sel.is_empty() => Selector::All,
            None => Selector::Anchor(sel.to_string()),
        },
    }
}

/// Where, if anywhere, `ANCHOR: name` and `ANCHOR_END: name` are in `source` (0-based lines).
///
/// A marker names exactly one anchor: `ANCHOR: serve` does not open `ANCHOR: serve_all`.
pub fn anchor_lines(source: &str, name: &str) -> (Option<usize>, Option<usize>) {
    let mut start = None;
    let mut end = None;
    for (index, line) in source.lines().enumerate() {
        if start.is_none() && marker_names(line, "ANCHOR:", name) {
            start = Some(index);
        } else if end.is_none() && marker_names(line, "ANCHOR_END:", name) {
            end = Some(index);
        }
    }
    (start, end)
}

fn marker_names(line: &str, marker: &str, name: &str) -> bool {
    let Some(at) = line.find(marker) else {
        return false;
    };
    let named: String = line[at + marker.len()..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    named == name
}

/// Checks one include of `chapter` (a path inside the book's `src/`): the file exists and the
/// anchor, if any, opens, closes in that order and has something between.
pub fn check_include(chapter: &Path, include: &Include) -> Option<Problem> {
    let problem = |message: String| {
        Some(Problem {
            file: chapter.to_path_buf(),
            message: format!("line {}: {message}", include.line),
        })
    };
    let dir = chapter.parent().unwrap_or(Path::new("."));
    let target = dir.join(&include.path);
    let source = match std::fs::read_to_string(&target) {
        Ok(source) => source,
        Err(err) => {
            return problem(format!("cannot include {}: {err}", include.path));
        }
    };
    match &include.selector {
        Selector::All => None,
        Selector::Anchor(name) => match anchor_lines(&source, name) {
            (None, _) => problem(format!(
                "anchor `{name}` not found in {} (no `ANCHOR: {name}` line)",
                include.path
            )),
            (Some(_), None) => problem(format!(
                "anchor `{name}` in {} is never closed (no `ANCHOR_END: {name}` line)",
                include.path
            )),
            (Some(start), Some(end)) if end <= start + 1 => problem(format!(
                "anchor `{name}` in {} is empty or closed before it opens",
                include.path
            )),
            _ => None,
        },
        Selector::Lines { start, end } => {
            let lines = source.lines().count();
            let wanted = start.unwrap_or(1).max(end.unwrap_or(0));
            if wanted > lines {
                problem(format!(
                    "{} has {lines} lines; the include asks for line {wanted}",
                    include.path
                ))
            } else {
                None
            }
        }
    }
}

/// Every include of every chapter under `src`, checked.
pub fn check_sources(src: &Path) -> crate::Result<Vec<Problem>> {
    let mut problems = Vec::new();
    for chapter in files_with_extension(src, "md")? {
        let markdown = std::fs::read_to_string(&chapter)?;
        for include in find_includes(&markdown) {
            problems.extend(check_include(&chapter, &include));
        }
    }
    Ok(problems)
}

// ---------------------------------------------------------------------------------------------
// Links, checked in the built HTML (so every link mdBook wrote is seen, from any chapter).

/// The values of every `href="..."` and `src="..."` attribute in `html`.
pub fn links_in(html: &str) -> Vec<String> {
    let mut links = attribute_values(html, "href");
    links.extend(attribute_values(html, "src"));
    links
}

/// The values of every `id="..."` attribute in `html`: the fragments a link may name.
pub fn ids_in(html: &str) -> HashSet<String> {
    attribute_values(html, "id")
        .into_iter()
        .chain(attribute_values(html, "name"))
        .collect()
}

/// Values of `name="..."` (or `name='...'`) attributes, entity-decoded. A plain scan, not a
/// parser: mdBook's output quotes every attribute, and a name counts only with whitespace
/// before it and `=` after it (`data-href=` is not `href=`, and `hidden` holds no `id`).
fn attribute_values(html: &str, name: &str) -> Vec<String> {
    let bytes = html.as_bytes();
    let mut values = Vec::new();
    let mut from = 0;
    while let Some(at) = html[from..].find(name) {
        let start = from + at;
        from = start + name.len();
        let before_ok = start > 0 && bytes[start - 1].is_ascii_whitespace();
        let rest = &html[from..];
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        if !before_ok {
            continue;
        }
        let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        if let Some(close) = rest[1..].find(quote) {
            values.push(decode_entities(&rest[1..1 + close]));
        }
    }
    values
}

fn decode_entities(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `%E4%BA%8C` back to `二`: links are percent-encoded, ids are not.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A link that leaves the book (another site, mail, inline data, script) is not ours to check.
fn is_external(link: &str) -> bool {
    let scheme = link
        .split_once(':')
        .map(|(scheme, _)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        })
        .unwrap_or(false);
    scheme || link.starts_with("//")
}

/// Follows every relative link in every page under `out` (mdBook's build directory).
///
/// `404.html` is skipped: it is written for a web server, with links relative to the site's
/// root rather than to itself.
pub fn check_html(out: &Path) -> crate::Result<Vec<Problem>> {
    let mut problems = Vec::new();
    let pages = files_with_extension(out, "html")?;
    let mut ids_cache: std::collections::HashMap<PathBuf, HashSet<String>> = Default::default();
    for page in &pages {
        if page.file_name().is_some_and(|n| n == "404.html") {
            continue;
        }
        let html = std::fs::read_to_string(page)?;
        for link in links_in(&html) {
            if let Some(message) = check_link(page, &link, &mut ids_cache) {
                problems.push(Problem {
                    file: page.clone(),
                    message,
                });
            }
        }
    }
    Ok(problems)
}

/// Checks one link found in `page`: the file it names exists, and so does the fragment.
fn check_link(
    page: &Path,
    link: &str,
    ids_cache: &mut std::collections::HashMap<PathBuf, HashSet<String>>,
) -> Option<String> {
    if link.is_empty() || is_external(link) {
        return None;
    }
    let (path, fragment) = match link.split_once('#') {
        Some((path, fragment)) => (path, Some(fragment)),
        None => (link, None),
    };
    let path = path.split('?').next().unwrap_or_default();
    let dir = page.parent().unwrap_or(Path::new("."));
    let mut target = if path.is_empty() {
        page.to_path_buf()
    } else {
        dir.join(percent_decode(path))
    };
    if target.is_dir() {
        target = target.join("index.html");
    }
    if !target.is_file() {
        // A chapter's page is missing when its .md is missing or not listed in SUMMARY.md.
        let hint = if target.extension().is_some_and(|e| e == "html") {
            " (is its .md written and listed in SUMMARY.md?)"
        } else {
            ""
        };
        return Some(format!(
            "broken link `{link}`: {} does not exist{hint}",
            target.display()
        ));
    }
    let fragment = percent_decode(fragment.unwrap_or_default());
    let is_html = target.extension().is_some_and(|e| e == "html");
    if fragment.is_empty() || !is_html {
        return None;
    }
    let key = target.canonicalize().unwrap_or_else(|_| target.clone());
    let ids = ids_cache.entry(key).or_insert_with(|| {
        std::fs::read_to_string(&target)
            .map(|html| ids_in(&html))
            .unwrap_or_default()
    });
    if ids.contains(&fragment) {
        None
    } else {
        Some(format!(
            "broken link `{link}`: no element with id `{fragment}` in {}",
            target.display()
        ))
    }
}

/// Every file under `dir` whose name ends in `.ext`, sorted, so messages come in a stable order.
fn files_with_extension(dir: &Path, ext: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == ext) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A scratch directory removed on drop (the lab has no `tempfile` dependency for this).
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Scratch {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "lab-docs-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn write(&self, rel: &str, text: &str) -> PathBuf {
            let path = self.0.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn anchor(name: &str) -> Selector {
        Selector::Anchor(name.to_string())
    }

    #[test]
    fn finds_includes_with_anchors_ranges_and_escapes() {
        let md = "text\n\
                  ```rust\n\
                  {{#include ../../crates/a/src/b.rs:serve}}\n\
                  ```\n\
                  {{#rustdoc_include x.rs:3:9}} and {{#include y.rs}}\n\
                  Write \\{{#include path:anchor}} to include code.\n\
                  {{#title Not an include}} {{#include z.rs::4}}\n";
        let found = find_includes(md);
        let got: Vec<(usize, &str, &Selector)> = found
            .iter()
            .map(|i| (i.line, i.path.as_str(), &i.selector))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, "../../crates/a/src/b.rs", &anchor("serve")),
                (
                    5,
                    "x.rs",
                    &Selector::Lines {
                        start: Some(3),
                        end: Some(9)
                    }
                ),
                (5, "y.rs", &Selector::All),
                (
                    7,
                    "z.rs",
                    &Selector::Lines {
                        start: None,
                        end: Some(4)
                    }
                ),
            ]
        );
    }

    #[test]
    fn an_anchor_marker_names_exactly_one_anchor() {
        let src = "// ANCHOR: serve_all\nx\n// ANCHOR_END: serve_all\n// ANCHOR: serve\ny\n// ANCHOR_END: serve\n";
        assert_eq!(anchor_lines(src, "serve"), (Some(3), Some(5)));
        assert_eq!(anchor_lines(src, "serve_all"), (Some(0), Some(2)));
        assert_eq!(anchor_lines(src, "serv"), (None, None));
    }

    #[test]
    fn a_missing_file_or_anchor_is_a_problem() {
        let dir = Scratch::new();
        dir.write(
            "crates/k/src/lib.rs",
            "// ANCHOR: good\nfn f() {}\n// ANCHOR_END: good\n// ANCHOR: open\nfn g() {}\n\
             // ANCHOR_END: backwards\n// ANCHOR: backwards\n// ANCHOR: empty\n// ANCHOR_END: empty\n",
        );
        let chapter = dir.write("docs/src/ch.md", "");
        let check = |path: &str, selector: Selector| {
            check_include(
                &chapter,
                &Include {
                    line: 1,
                    path: path.to_string(),
                    selector,
                },
            )
        };
        let lib = "../../crates/k/src/lib.rs";
        assert_eq!(check(lib, anchor("good")), None);
        assert_eq!(check(lib, Selector::All), None);
        assert_eq!(
            check(
                lib,
                Selector::Lines {
                    start: Some(2),
                    end: Some(3)
                }
            ),
            None
        );

        let message = |p: Option<Problem>| p.expect("a problem").message;
        assert!(
            message(check("../../crates/k/src/gone.rs", Selector::All)).contains("cannot include")
        );
        assert!(message(check(lib, anchor("missing"))).contains("not found"));
        assert!(message(check(lib, anchor("open"))).contains("never closed"));
        assert!(message(check(lib, anchor("backwards"))).contains("closed before it opens"));
        assert!(message(check(lib, anchor("empty"))).contains("empty"));
        assert!(message(check(
            lib,
            Selector::Lines {
                start: Some(5),
                end: Some(400)
            }
        ))
        .contains("asks for line 400"));
    }

    #[test]
    fn check_sources_reports_each_broken_include_with_its_line() {
        let dir = Scratch::new();
        dir.write("code.rs", "// ANCHOR: a\nfn a() {}\n// ANCHOR_END: a\n");
        dir.write(
            "src/sub/ch.md",
            "# Ch\n{{#include ../../code.rs:a}}\n{{#include ../../code.rs:b}}\n",
        );
        dir.write("src/ok.md", "{{#include ../code.rs:a}}\n");
        let problems = check_sources(&dir.0.join("src")).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].file.ends_with("src/sub/ch.md"));
        assert!(problems[0].message.starts_with("line 3: anchor `b`"));
    }

    #[test]
    fn log_errors_and_warnings_are_problems() {
        let log = " INFO Book building has started\n\
                   2026-01-01 ERROR Error updating \"{{#include x.rs}}\", Failed to read file\n\
                   [WARN] (mdbook::x): something odd\n\
                   INFO Running the html backend\n\
                   a line mentioning ERRORS is not one\n";
        let problems = problems_in_log(log, Path::new("book.toml"));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].message.contains("Failed to read file"));
        assert!(problems_in_log(" INFO ok\n", Path::new("book.toml")).is_empty());
    }

    #[test]
    fn attributes_are_read_whole_and_decoded() {
        let html = r##"<a href="b.html#x">x</a> <img src='figures/f.svg'> <a data-href="no.html">
            <h2 id="二wait-data">t</h2> <a href="?a=1&amp;b=2">q</a> <div hidden id="side">"##;
        assert_eq!(
            links_in(html),
            vec!["b.html#x", "?a=1&b=2", "figures/f.svg"]
        );
        let ids = ids_in(html);
        assert!(ids.contains("二wait-data") && ids.contains("side"));
    }

    #[test]
    fn percent_encoded_links_decode_to_utf8() {
        assert_eq!(percent_decode("%E4%BA%8Cwait-data"), "二wait-data");
        assert_eq!(percent_decode("a%20b%"), "a b%");
        assert_eq!(percent_decode("100%zz"), "100%zz");
    }

    #[test]
    fn broken_links_and_fragments_are_found_and_good_ones_pass() {
        let dir = Scratch::new();
        dir.write(
            "a.html",
            r##"<h1 id="top">A</h1>
            <a href="b.html">ok</a> <a href="b.html#%E4%BA%8C">ok, encoded</a> <a href="#top">ok</a>
            <a href="sub/">ok, index</a> <img src="figures/f.svg"> <a href="https://example.org/x">ext</a>
            <a href="mailto:x@y">mail</a> <a href="//cdn/x.js">cdn</a>
            <a href="missing.html">bad</a> <a href="b.html#nope">bad fragment</a>
            <img src="figures/gone.svg"> <a href="#also-nope">bad here</a>"##,
        );
        dir.write("b.html", r#"<h2 id="二">B</h2>"#);
        dir.write("sub/index.html", "<p>index</p>");
        dir.write("figures/f.svg", "<svg/>");
        dir.write("404.html", r#"<a href="/nowhere.html">skipped</a>"#);
        let problems = check_html(&dir.0).unwrap();
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(messages.len(), 4, "{messages:#?}");
        assert!(messages[0].contains("`missing.html`"));
        assert!(messages[1].contains("`b.html#nope`") && messages[1].contains("no element"));
        assert!(messages[2].contains("`#also-nope`"));
        assert!(messages[3].contains("`figures/gone.svg`"));
    }

    #[test]
    fn the_build_dir_comes_from_book_toml() {
        let dir = Scratch::new();
        assert_eq!(build_dir(&dir.0), "book", "no book.toml: mdBook's default");
        dir.write(
            "book.toml",
            "[book]\ntitle = \"t\"\n[build]\nbuild-dir = \"out/html\"\n",
        );
        assert_eq!(build_dir(&dir.0), "out/html");
    }

    #[test]
    fn only_a_previous_build_is_removed() {
        let dir = Scratch::new();
        dir.write("notes/keep.md", "mine");
        remove_old_build(&dir.0.join("notes")).unwrap();
        assert!(dir.0.join("notes/keep.md").is_file(), "not a build: kept");
        dir.write("book/index.html", "<p>old</p>");
        dir.write("book/stale.html", "<p>old</p>");
        remove_old_build(&dir.0.join("book")).unwrap();
        assert!(!dir.0.join("book").exists());
    }

    #[test]
    fn externals_are_recognised() {
        for link in [
            "https://x",
            "http://x",
            "mailto:a@b",
            "data:image/png;base64,x",
            "//x/y",
        ] {
            assert!(is_external(link), "{link}");
        }
        for link in ["a.html", "../x.md", "#frag", "figures/f.svg", "a.html#b:c"] {
            assert!(!is_external(link), "{link}");
        }
    }

    /// The real book: every include in `docs/src` names a file and an anchor that exist. This
    /// runs with `cargo test`, without mdBook, so a renamed anchor fails before CI builds the
    /// book.
    #[test]
    fn the_books_includes_and_anchors_resolve() {
        let src = default_book_dir().join("src");
        let problems = check_sources(&src).unwrap();
        assert!(problems.is_empty(), "{problems:#?}");
        let chapters = files_with_extension(&src, "md").unwrap();
        let includes: usize = chapters
            .iter()
            .map(|c| find_includes(&std::fs::read_to_string(c).unwrap()).len())
            .sum();
        assert!(
            includes > 0,
            "the book includes no code: is {} the book?",
            src.display()
        );
    }
}
