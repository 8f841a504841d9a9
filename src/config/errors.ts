// The two ways weft fails on purpose, with the exit code each maps to.
// A user mistake is one line on stderr and exit 2; a runtime failure (a file
// that will not open, a device that cannot be made) is one line and exit 1.
// Anything else is a bug and keeps its stack trace.

/** Bad command line or configuration: exit 2. */
export class UsageError extends Error {}

/** Something failed at run time that the user can fix: exit 1. */
export class RuntimeError extends Error {}
