//! The data generator: reproducible, complete, valid.

use std::collections::HashSet;

use loadgen::datagen::{generate, matches};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_seed_gives_valid_reproducible_predictions_covering_every_match(
        seed in any::<u64>(),
        count in 64usize..400,
    ) {
        let a = generate(seed, count);
        prop_assert_eq!(&a, &generate(seed, count));
        prop_assert_eq!(a.len(), count);
        for p in &a {
            prop_assert!(loadgen::validate(p).is_ok(), "{:?}", p);
        }
        let real: HashSet<_> = matches()
            .into_iter()
            .map(|m| (m.team1, m.team2, m.phase))
            .collect();
        let seen: HashSet<_> = a
            .iter()
            .map(|p| (p.team1.clone(), p.team2.clone(), p.phase))
            .collect();
        prop_assert_eq!(seen, real);
    }
}

#[test]
fn different_seeds_give_different_sets() {
    assert_ne!(generate(1, 200), generate(2, 200));
}
