// Text from the service shown on a terminal: names, commands and messages can come from anyone
// who can set an environment variable or write a script, so control characters never reach the
// terminal as such (an ESC sequence would clear the screen or recolour it, a newline forge a table
// row). Each becomes a visible escape: \n, \t, \e, \xNN, \u{NNNN}. (A backslash stays as it is: Windows
// paths are full of them.)
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\x1b': '\\e' };

// C0 and C1 controls, DEL, and the Unicode format characters that reorder or hide text.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

export function printable(text: string): string {
  return text.replace(UNSAFE, (c) => {
    if (NAMED[c]) return NAMED[c];
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}
