// The parser and check(): the tree a line becomes, and what cannot be parsed (or is likely a mistake) reported
// with file:line before anything runs (for `arms check` and for the interpreter itself).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { check, Node, Parser, Reader, render } from '../../src/batch/parse';
import { formatProblem } from '../../src/batch/source';
import { tempDir } from '../helpers';
import { bat, runBat, runFile } from './run-bat';

function parse(...lines: string[]): Node {
  let i = 0;
  const reader = new Reader(() => (i < lines.length ? { text: lines[i], line: ++i } : null));
  reader.more();
  return new Parser(reader).logical();
}

function problemsOf(text: string, name = 'G.BAT'): string[] {
  const file = path.join(tempDir(), name);
  fs.writeFileSync(file, text);
  return check(file).map((p) => formatProblem(p).slice(path.dirname(file).length + 1));
}

describe('the parser', () => {
  it('chains: && and || bind tighter than &, left to right', () => {
    const n = parse('a && b || c & d');
    expect(n).toMatchObject({
      kind: 'chain',
      op: '&',
      left: { kind: 'chain', op: '||', left: { kind: 'chain', op: '&&' } },
      right: { kind: 'command', text: 'd' },
    });
  });

  it('redirections are taken out of the command, with their handles, wherever they are written', () => {
    expect(parse('>out.txt echo hi 2>>"err file.txt" 2>&1 <in')).toMatchObject({
      kind: 'command',
      text: ' echo hi   ', // the blanks between redirections stay (cmd's ECHO prints them)
      redirects: [
        { fd: 1, mode: 'write', target: 'out.txt' },
        { fd: 2, mode: 'append', target: 'err file.txt' },
        { fd: 2, mode: 'dup', target: '1' },
        { fd: 0, mode: 'read', target: 'in' },
      ],
    });
    // A digit that is part of a word is not a handle.
    expect(parse('echo a2>f')).toMatchObject({ text: 'echo a2', redirects: [{ fd: 1, target: 'f' }] });
  });

  it('IF with a block, ELSE and the line numbers of what is inside', () => {
    const n = parse('IF /I NOT "%X%" == "a" (', '  echo one', ') ELSE (', '  echo two & echo three', ')');
    expect(n).toMatchObject({
      kind: 'if',
      line: 1,
      ignoreCase: true,
      negate: true,
      cond: { kind: 'compare', op: '==', left: '"%X%"', right: '"a"' },
      then: { kind: 'block', body: [{ kind: 'command', text: 'echo one', line: 2 }] },
      else: { kind: 'block', body: [{ kind: 'chain', line: 4 }] },
    });
    expect(render(n)).toBe('IF /I NOT "%X%" == "a" (echo one) ELSE (echo two & echo three)');
  });

  it('REM ends the line, ) included; quotes and ^ protect special characters', () => {
    expect(parse('Rem a & b ) c')).toMatchObject({ kind: 'rem', text: 'Rem a & b ) c' });
    expect(parse('echo "a & b" ^& c')).toMatchObject({ kind: 'command', text: 'echo "a & b" & c' });
  });

  it('the rest of the line after IF\'s condition is its command, after a block too', () => {
    expect(parse('if a==b (echo x) & echo y')).toMatchObject({ kind: 'if', then: { kind: 'chain', op: '&' }, else: null });
  });
});

describe('check', () => {
  it('a file in the dialect has no problems', () => {
    const text = bat(`
      @ECHO OFF
      REM a start script
      SETLOCAL ENABLEEXTENSIONS
      IF "%ARMS_EVENT%" == "START" GOTO NORMAL
      IF /I NOT "%ARMS_EVENT%" == "FAILOVER" GOTO :EOF
      :NORMAL
      ARMLOAD RSP /R 9 /H 1 /FOV ARMRSP /A
      IF ERRORLEVEL 1 (
        ARMLOG "could not start" /ARM
        EXIT /B 1
      ) ELSE (
        ARMLOG "started" > NUL 2>&1
      )
      SET /A COUNT=COUNT+1
      CALL :sub "%~dp0x" || ECHO.failed
      START "" /B /WAIT helper.bat
      PUSHD %~dp0 & POPD
      ENDLOCAL
      GOTO :EOF
      :sub
      SHIFT
      EXIT /B %ERRORLEVEL%
    `);
    expect(problemsOf(text)).toEqual([]);
  });

  it('what cmd runs but is probably a mistake is a warning, with its line (the script still runs)', () => {
    const text = bat(`
      @echo off
      for %%f in (*.txt) do echo %%f
      type file.txt | find "x"
      setlocal enabledelayedexpansion
      C:
      start /node 1 prog.exe
      set /a X=(1+2
      exit /b later
      if errorlevel one echo x
      reg query HKLM\\Software
      for /f "tokens=0" %%a in (x) do echo %%a
    `);
    expect(problemsOf(text)).toEqual([
      'G.BAT:5: warning: C: changes the drive in cmd: there are no drive letters here (The system cannot find the drive specified.)',
      'G.BAT:6: warning: START: the option /NODE has no meaning here (no processor groups, NUMA nodes or affinity)',
      'G.BAT:7: warning: SET /A X=(1+2: Unbalanced parenthesis. (cmd says so at this line and goes on)',
      'G.BAT:8: warning: EXIT: "later" is not a number (cmd takes it as 0)',
      'G.BAT:9: warning: IF ERRORLEVEL needs a number, not "one" (cmd stops the script there)',
      "G.BAT:10: warning: reg is a Windows program with no counterpart here: the line will not run (ERRORLEVEL 9009); instead: a file or an environment variable set in the service's environment",
      'G.BAT:11: warning: FOR /F "tokens=0": tokens=0 was unexpected at this time (cmd stops the script there)',
    ]);
  });

  it('a block that is never closed is an error; an ELSE on the line after the ), a stray ) and a GOTO to no label are warnings', () => {
    expect(problemsOf(bat(`
      IF 1==1 (
        echo x
      )
      ELSE (
        echo y
      )
      GOTO NOWHERE
      GOTO %DYNAMIC%
      (
        echo never closed
    `))).toEqual([
      'G.BAT:4: warning: ELSE must follow the ) of an IF block on the same line: ") ELSE (" (cmd runs it as a command named ELSE: 9009)',
      'G.BAT:6: warning: a ) with no ( open: cmd skips the rest of this line',
      'G.BAT:7: warning: GOTO NOWHERE: there is no label :NOWHERE in this file (cmd stops this batch context there)',
      'G.BAT:9: this ( is never closed: ) is missing',
    ]);
  });

  it('a Shift_JIS file is read as Shift_JIS (a second byte 0x7C or 0x5C is part of its character); a missing file is reported', () => {
    const dir = tempDir();
    const file = path.join(dir, 'SJIS.BAT');
    // ソ is 83 5C and 表 is 95 5C: the 5C is not a backslash; ポ is 83 7C: not a pipe.
    fs.writeFileSync(file, Buffer.concat([Buffer.from('@echo off\r\necho '), Buffer.from([0x83, 0x5c, 0x95, 0x5c, 0x83, 0x7c]), Buffer.from('\r\n')]));
    expect(check(file)).toEqual([]);
    expect(check(path.join(dir, 'NONE.BAT')).map(formatProblem)).toEqual([`${path.join(dir, 'NONE.BAT')}:0: ${path.join(dir, 'NONE.BAT')}: no such file`]);
  });

  it('the interpreter refuses only a file that cannot be parsed (exit 255, every problem on stderr); errors cmd has at run time happen at their line', async () => {
    const r = await runBat(bat(`
      @echo off
      echo this would run first
      (
        echo never closed
    `));
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter(Boolean).map((l) => l.replace(/^.*[/]/, ''))).toEqual(['T.BAT:3: this ( is never closed: ) is missing']);
    const ran = await runBat(bat('@echo off\r\necho runs\r\nset /a z=09+1\r\necho el %errorlevel%\r\nif 1==2 goto nolabel\r\n'));
    expect(ran).toMatchObject({
      code: 1073750023 & 0xff, // the last ERRORLEVEL's low byte
      stdout: 'runs\nel 1073750023\n',
      stderr: 'Invalid number.  Numeric constants are either decimal (17), hexadecimal (0x11), or octal (021).\n',
    });
  });

  it('a CALLed file that cannot be parsed stops the run when it is called, naming its own file and line', async () => {
    const r = await runBat(bat('@echo off\r\necho before\r\ncall bad.bat\r\necho after\r\n'), { files: { 'bad.bat': 'echo x\r\n(echo y\r\n' } });
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('before\n');
    expect(r.stderr).toMatch(/bad\.bat:2: this \( is never closed/);
  });

  it('UTF-16LE with a BOM and UTF-8 with a BOM are detected; --encoding forces one', async () => {
    const text = '@echo off\r\necho äöü 日本\r\n';
    const u16 = await runBat('', { files: { 'U16.BAT': '' } });
    const dir = u16.dir;
    fs.writeFileSync(path.join(dir, 'U16.BAT'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
    fs.writeFileSync(path.join(dir, 'U8.BAT'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]));
    for (const f of ['U16.BAT', 'U8.BAT']) {
      const r = await runFile(path.join(dir, f));
      expect(r).toMatchObject({ code: 0, stdout: 'äöü 日本\n' });
    }
    // Latin-1 bytes that happen to be valid Shift_JIS: detected as Shift_JIS; forced as UTF-8 they are replacement characters.
    fs.writeFileSync(path.join(dir, 'L.BAT'), Buffer.from('@echo off\r\necho \x83\x65\r\n', 'latin1'));
    expect((await runFile(path.join(dir, 'L.BAT'))).stdout).toBe('テ\n');
    const forced = await runFile(path.join(dir, 'L.BAT'), { env: { ARMS_BATCH_ENCODING: 'utf-8' } });
    expect(forced.stdout).toBe('\uFFFDe\n');
  });
});

describe('one import direction between src/batch and src/commands', () => {
  it('nothing under src/batch imports src/commands (arms run/check/migrate drive the interpreter, not the other way)', () => {
    const root = path.join(__dirname, '..', '..', 'src', 'batch');
    const files = fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(20);
    const offenders = files.filter((f) => /from '(\.\.\/)+commands\/|require\('(\.\.\/)+commands\//.test(fs.readFileSync(path.join(root, f), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
