/** Exit codes shared by every subcommand (documented in the README). */
export const EXIT_OK = 0;
/** The command ran and found problems: invalid config, failed cases, unmet expectations. */
export const EXIT_PROBLEMS = 1;
/** Bad command line: unknown option, missing argument, unreadable input named on the command line. */
export const EXIT_USAGE = 2;
/** The daemon hit a fatal runtime error (could not open a queue, install rules, ...). */
export const EXIT_FATAL = 3;
