//! The two editions of the book in step: `docs/src` (English) and `docs/zh/src` (中文).
//!
//! A chapter edited in one edition and forgotten in the other is the way translations rot.
//! Prose cannot be compared across languages, but a chapter's skeleton can: the code it
//! includes from the crates, the figures it shows, and its exercises. So for every chapter
//! listed in either `SUMMARY.md` this checks that
//! - the chapter exists in both editions, listed in the same order;
//! - both include the same listings (`{{#include ...}}`, compared as the list of targets);
//! - both show the same figures (`![..](figures/...)`, compared as the list of files);
//! - both have the same number of exercises, and of hint and answer blocks (`<details>`);
//! - each links to its counterpart near its top.
//!
//! [`report`] prints one chapter's counts, which is how a translator sees what is missing.

use crate::docs::Problem;
use std::path::Path;

/// How many lines at the top of a chapter may come before the link to its counterpart.
const LINK_WITHIN: usize = 6;

/// What a chapter is made of, as far as both editions must agree.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Skeleton {
    /// Targets of `{{#include ...}}`, in order.
    pub includes: Vec<String>,
    /// Image paths, in order.
    pub figures: Vec<String>,
    /// Numbered items in the exercises section (`## Exercises` / `## 练习`).
    pub exercises: usize,
    /// `<details>` blocks: a hint or an answer each.
    pub details: usize,
}

/// The skeleton of one chapter's markdown.
pub fn skeleton(markdown: &str) -> Skeleton {
    let mut s = Skeleton::default();
    let mut in_exercises = false;
    let mut in_code = false;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("{{#include ") {
            // Each edition reaches the crates from its own folder (`../../crates` and
            // `../../../crates`): compare what is included, not how it is reached.
            let target = rest.trim_end_matches("}}").trim();
            s.includes
                .push(target.trim_start_matches("../").to_string());
            continue;
        }
        if in_code {
            continue;
        }
        if let Some(heading) = trimmed.strip_prefix("## ") {
            in_exercises = is_exercises_heading(heading);
        }
        let mut rest = line;
        while let Some(at) = rest.find("![") {
            rest = &rest[at + 2..];
            if let Some(open) = rest.find("](") {
                let target = &rest[open + 2..];
                if let Some(close) = target.find(')') {
                    // A figure with words may have a Chinese version, `name.zh.svg`.
                    s.figures.push(target[..close].replace(".zh.svg", ".svg"));
                }
            }
        }
        s.details += line.matches("<details>").count();
        if in_exercises && line.starts_with(|c: char| c.is_ascii_digit()) {
            let digits = line.trim_start_matches(|c: char| c.is_ascii_digit());
            if digits.starts_with(". ") {
                s.exercises += 1;
            }
        }
    }
    s
}

fn is_exercises_heading(heading: &str) -> bool {
    let h = heading.trim();
    h.eq_ignore_ascii_case("exercises") || h == "练习"
}

/// The chapter files a `SUMMARY.md` lists, in order.
pub fn chapters(summary: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_comment = false;
    for line in summary.lines() {
        if line.contains("<!--") {
            in_comment = true;
        }
        if in_comment {
            in_comment = !line.contains("-->");
            continue;
        }
        if let Some(open) = line.find("](") {
            let target = &line[open + 2..];
            if let Some(close) = target.find(')') {
                found.push(target[..close].to_string());
            }
        }
    }
    found
}

/// Where each edition's chapter must link to find the other, from the chapter's own page:
/// the Chinese book is built into `zh/` under the English one.
fn counterpart_link(chapter: &str, from_zh: bool) -> String {
    if from_zh {
        format!("../{chapter}")
    } else {
        format!("zh/{chapter}")
    }
}

/// Every way the two editions under `en` and `zh` (each a book's `src`) disagree.
pub fn check(en: &Path, zh: &Path) -> crate::Result<Vec<Problem>> {
    let read = |dir: &Path, file: &str| std::fs::read_to_string(dir.join(file));
    let en_chapters = chapters(&read(en, "SUMMARY.md")?);
    let zh_chapters = chapters(&read(zh, "SUMMARY.md")?);
    let mut problems = Vec::new();
    if en_chapters != zh_chapters {
        problems.push(Problem {
            file: zh.join("SUMMARY.md"),
            message: format!(
                "lists {zh_chapters:?}, the English edition {en_chapters:?}: the same \
                 chapters in the same order"
            ),
        });
    }
    for chapter in &en_chapters {
        let (Ok(en_md), Ok(zh_md)) = (read(en, chapter), read(zh, chapter)) else {
            problems.push(Problem {
                file: zh.join(chapter),
                message: "missing in one edition".into(),
            });
            continue;
        };
        let (a, b) = (skeleton(&en_md), skeleton(&zh_md));
        let mut differ = |what: &str, en_has: String, zh_has: String| {
            problems.push(Problem {
                file: zh.join(chapter),
                message: format!("{what}: English {en_has}, 中文 {zh_has}"),
            })
        };
        if a.includes != b.includes {
            differ(
                "included listings differ",
                format!("{:?}", a.includes),
                format!("{:?}", b.includes),
            );
        }
        if a.figures != b.figures {
            differ(
                "figures differ",
                format!("{:?}", a.figures),
                format!("{:?}", b.figures),
            );
        }
        if a.exercises != b.exercises {
            differ(
                "exercise counts differ",
                a.exercises.to_string(),
                b.exercises.to_string(),
            );
        }
        if a.details != b.details {
            differ(
                "hint/answer blocks differ",
                a.details.to_string(),
                b.details.to_string(),
            );
        }
        for (md, dir, from_zh) in [(&en_md, en, false), (&zh_md, zh, true)] {
            let link = counterpart_link(chapter, from_zh);
            if !md
                .lines()
                .take(LINK_WITHIN)
                .any(|l| l.contains(&format!("]({link})")))
            {
                problems.push(Problem {
                    file: dir.join(chapter),
                    message: format!(
                        "no link to its counterpart ({link}) in its first {LINK_WITHIN} lines"
                    ),
                });
            }
        }
    }
    Ok(problems)
}

/// One chapter's skeleton in both editions, side by side, for a person to read.
pub fn report(en: &Path, zh: &Path, chapter: &str) -> crate::Result<String> {
    let a = skeleton(&std::fs::read_to_string(en.join(chapter))?);
    let b = skeleton(&std::fs::read_to_string(zh.join(chapter))?);
    let mark = |same: bool| if same { "ok" } else { "DIFFERS" };
    Ok(format!(
        "{chapter}\n  included listings  {:>3} | {:>3}  {}\n  figures            {:>3} | {:>3}  {}\n  \
         exercises          {:>3} | {:>3}  {}\n  hint/answer blocks {:>3} | {:>3}  {}\n",
        a.includes.len(),
        b.includes.len(),
        mark(a.includes == b.includes),
        a.figures.len(),
        b.figures.len(),
        mark(a.figures == b.figures),
        a.exercises,
        b.exercises,
        mark(a.exercises == b.exercises),
        a.details,
        b.details,
        mark(a.details == b.details),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EN: &str = "[中文](zh/x.md)\n# X\n\n![a figure](figures/a.svg)\n\n```rust\n\
        {{#include ../../crates/c/src/a.rs:one}}\n```\n\n## Exercises\n\n1. Do this.\n\
        <details><summary>Answer</summary>done</details>\n2. And that.\n";

    #[test]
    fn a_chapter_skeleton_is_counted() {
        let s = skeleton(EN);
        assert_eq!(s.includes, vec!["crates/c/src/a.rs:one"]);
        assert_eq!(s.figures, vec!["figures/a.svg"]);
        assert_eq!((s.exercises, s.details), (2, 1));
    }

    #[test]
    fn a_translation_that_drops_a_listing_or_an_exercise_is_caught() {
        let dir = std::env::temp_dir().join(format!("parity-{}", std::process::id()));
        let (en, zh) = (dir.join("en"), dir.join("zh"));
        for d in [&en, &zh] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("SUMMARY.md"), "# S\n\n- [X](x.md)\n").unwrap();
        }
        std::fs::write(en.join("x.md"), EN).unwrap();
        let good = "[English](../x.md)\n# X\n\n![图](figures/a.zh.svg)\n\n```rust\n\
            {{#include ../../../crates/c/src/a.rs:one}}\n```\n\n## 练习\n\n1. 做这个。\n\
            <details><summary>答案</summary>好</details>\n2. 还有那个。\n";
        std::fs::write(zh.join("x.md"), good).unwrap();
        assert_eq!(check(&en, &zh).unwrap(), vec![]);

        let dropped = good
            .replace("{{#include ../../../crates/c/src/a.rs:one}}", "")
            .replace("2. 还有那个。\n", "");
        std::fs::write(zh.join("x.md"), dropped).unwrap();
        let problems = check(&en, &zh).unwrap();
        let text: Vec<String> = problems.iter().map(|p| p.message.clone()).collect();
        assert!(
            text.iter()
                .any(|m| m.starts_with("included listings differ")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|m| m.starts_with("exercise counts differ")),
            "{text:?}"
        );

        std::fs::write(zh.join("x.md"), good.replace("[English](../x.md)\n", "")).unwrap();
        assert!(check(&en, &zh)
            .unwrap()
            .iter()
            .any(|p| p.message.contains("counterpart")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn chapters_are_read_from_the_summary_not_its_comments() {
        let summary = "# S\n<!--\n [Old](old.md)\n-->\n[Intro](intro.md)\n- [A](a.md)\n";
        assert_eq!(chapters(summary), vec!["intro.md", "a.md"]);
    }
}
