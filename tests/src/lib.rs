//! Cross-crate seeded simulations and properties live in tests/tests/.
