"""Detection: Sigma rules compiled to a dialect-neutral predicate tree, and the engines that run it."""
