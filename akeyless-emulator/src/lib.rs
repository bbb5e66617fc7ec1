//! A faithful local emulator of the Akeyless REST API, for tests, benchmarks and offline work.
