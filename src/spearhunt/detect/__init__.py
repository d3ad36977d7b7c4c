"""Detection: rules and checks that turn read input into findings."""
