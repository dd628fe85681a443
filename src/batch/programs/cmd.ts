// CMD /C line (and /K, which ends the same way without a console): the line runs in a cmd of its
// own, here as in a child of this interpreter: its variables stay there, its exit code is
// ERRORLEVEL. /V:ON turns delayed expansion on there; /D /Q /S /A /U are accepted.
import { writeFd } from '../io';
import { expandCommandLine } from '../expand';
import { Parser, ParseError, Reader } from '../parse';
import type { ProgramRun } from '.';

export async function cmd({ sh, rest, io, frame, line }: ProgramRun): Promise<number> {
  let text = rest.replace(/^[ \t]+/, '');
  let delayed = false;
  for (;;) {
    const m = /^\/([a-z](?::[a-z]+)?)(?=[ \t"]|$)[ \t]*/i.exec(text);
    if (!m) break;
    const sw = m[1].toUpperCase();
    text = text.slice(m[0].length);
    if (sw === 'C' || sw === 'K') break;
    if (sw === 'V:ON' || sw === 'V') delayed = true;
  }
  // /S and the usual quoting: a line wholly in quotes loses them.
  if (text.startsWith('"') && text.endsWith('"') && text.length > 1) text = text.slice(1, -1);
  if (text.trim() === '') {
    writeFd(io.err, 'CMD without /C: no console to read commands from here\n');
    return 1;
  }
  // The new cmd expands its command line once, before running any of it.
  text = expandCommandLine(text, (n) => sh.lookup(n));
  let fed = false;
  let node;
  try {
    const reader = new Reader(() => (fed ? null : ((fed = true), { text, line })));
    reader.more();
    node = new Parser(reader).logical();
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
    writeFd(io.err, `${e.message}\n`);
    return 255;
  }
  return sh.isolated(async () => {
    sh.delayed = delayed;
    await sh.exec(node, frame, io);
  }, false);
}
