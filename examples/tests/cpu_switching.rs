//! Section 七: coroutines that yield after every CPU-bound step switch once per step and
//! compute what the plain loop computes. Counts and results, not speed.

use examples::cpu_switching::{in_coroutines, in_turn};

#[test]
fn coroutines_switch_once_per_step_and_compute_the_same_results() {
    coroutine_spawn::runtime::init(coroutine_spawn::runtime::Runtime::one_worker()).unwrap();
    const TASKS: usize = 4;
    const STEPS: u64 = 2_000;
    let plain = in_turn(TASKS, STEPS);
    let coroutines = in_coroutines(TASKS, STEPS).unwrap();
    assert_eq!(coroutines.results, plain.results);
    // Every task's results differ: a run that mixed the tasks up would show.
    assert!(plain.results.windows(2).all(|w| w[0] != w[1]));
    let steps = TASKS as u64 * STEPS;
    assert_eq!(coroutines.yields, steps);
    // Seen from inside: with four coroutines taking turns, every step but the first is
    // preceded by another task's step; at most the last task, alone at the end, runs a few
    // steps back to back.
    assert!(
        coroutines.switches + TASKS as u64 >= steps,
        "{} switches for {steps} steps",
        coroutines.switches
    );
    assert_eq!((plain.yields, plain.switches), (0, 0));
}
