"""Pure renderers: a CheckResult in, a string out. The CLI decides where text goes."""
