// How control leaves a line: a GOTO, the end of a batch context (GOTO :EOF, EXIT /B), the end of
// the whole run (EXIT), or an error cmd would stop on. They unwind through blocks and chains, so
// nothing after them on the line runs, as in cmd.
import type { Args } from './expand';
import type { Script } from './source';

/** A batch context: the main file, a CALLed file, or a CALL :label (which shares its file). */
export interface Frame {
  script: Script;
  /** 0-based index of the next physical line to read */
  pos: number;
  args: Args;
  /** a batch file was run without CALL: cmd does not come back to this context after the line */
  chained: boolean;
}

/** GOTO found its label; the frame's position is set. */
export class Jump {}

/** GOTO :EOF, EXIT /B, a label that is not there: this batch context ends. */
export class EndFrame {}

/** EXIT: the interpreter ends with this code. */
export class ExitAll {
  constructor(readonly code: number) {}
}

/** A line cmd could not run (a syntax error once expanded, a file that cannot be parsed): everything stops, as in cmd. */
export class Fatal {
  constructor(readonly text: string) {}
}

/** The exit code for a run stopped by Fatal (cmd's ERRORLEVEL after a syntax error). */
export const EXIT_SYNTAX = 255;
