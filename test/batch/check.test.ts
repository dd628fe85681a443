// The parser and check(): the tree a line becomes, and every construct outside the dialect reported
// with file:line before anything runs (for `arms check` and for the interpreter itself).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { check, Node, Parser, Reader, render } from '../../src/batch/parse';
import { formatProblem } from '../../src/batch/source';
import { tempDir } from '../helpers';
import { bat, runBat } from './run-bat';

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

  it('reports every construct outside the dialect, with its line', () => {
    const text = bat(`
      @echo off
      for %%f in (*.txt) do echo %%f
      type file.txt | find "x"
      del /q temp.txt
      set /p ANSWER=Continue?
      setlocal enabledelayedexpansion
      echo %~a1
      echo x > CON
      if cmdextversion 2 echo x
      C:
      start /node 1 prog.exe
      set /a X=(1+2
      exit /b later
      if errorlevel one echo x
      pause
    `);
    expect(problemsOf(text)).toEqual([
      'G.BAT:2: FOR is a cmd built-in outside the batch dialect: FOR loops are outside the batch dialect: use a .sh helper script',
      'G.BAT:3: a pipe (|) is outside the batch dialect: run the pipeline from a .sh script, or redirect to a file',
      'G.BAT:4: DEL is a cmd built-in outside the batch dialect: use a program (cp, mv, rm, mkdir, cat) or a .sh helper script',
      'G.BAT:5: SET /P reads from the console: outside the batch dialect',
      'G.BAT:6: SETLOCAL ENABLEDELAYEDEXPANSION (!VAR!) is outside the batch dialect',
      'G.BAT:7: %~a1: the a (attributes) and t (time) modifier is outside the batch dialect',
      'G.BAT:8: CON: Windows devices other than NUL do not exist here',
      'G.BAT:9: IF CMDEXTVERSION is outside the batch dialect',
      'G.BAT:10: C: changes the drive in cmd: there are no drive letters here',
      'G.BAT:11: START: the option /NODE is outside the batch dialect',
      'G.BAT:12: SET /A X=(1+2: Unbalanced parenthesis.',
      'G.BAT:13: EXIT: "later" is not a number',
      'G.BAT:14: IF ERRORLEVEL needs a number, not "one"',
      'G.BAT:15: PAUSE is a cmd built-in outside the batch dialect: a group script has no console to wait on',
    ]);
  });

  it('a block that is never closed, and an ELSE on the line after the ), are errors; a stray ) and a GOTO to no label are warnings', () => {
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
      'G.BAT:4: ELSE must follow the ) of an IF block on the same line: ") ELSE ("',
      'G.BAT:6: warning: a ) with no ( open: cmd skips the rest of this line',
      'G.BAT:7: warning: GOTO NOWHERE: there is no label :NOWHERE in this file (cmd stops this batch context there)',
      'G.BAT:9: this ( is never closed: ) is missing',
    ]);
  });

  it('a file that is not UTF-8 is reported at its first bad line; a missing file is reported too', () => {
    const dir = tempDir();
    const file = path.join(dir, 'SJIS.BAT');
    fs.writeFileSync(file, Buffer.concat([Buffer.from('@echo off\r\necho ok\r\necho '), Buffer.from([0x83, 0x65, 0x83, 0x58, 0x83, 0x67]), Buffer.from('\r\n')]));
    expect(check(file).map(formatProblem)).toEqual([`${file}:3: the file is not UTF-8 (a legacy code page such as Shift_JIS or CP437?): convert it first, e.g. iconv -f SHIFT_JIS -t UTF-8`]);
    expect(check(path.join(dir, 'NONE.BAT')).map(formatProblem)).toEqual([`${path.join(dir, 'NONE.BAT')}:0: ${path.join(dir, 'NONE.BAT')}: no such file`]);
  });

  it('the interpreter refuses a file with errors before running any of it (exit 255, every problem on stderr); warnings do not stop it', async () => {
    const r = await runBat(bat(`
      @echo off
      echo this would run first
      for %%f in (a) do echo %%f
      copy a b
    `));
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter(Boolean).map((l) => l.replace(/^.*[/]/, ''))).toEqual([
      'T.BAT:3: FOR is a cmd built-in outside the batch dialect: FOR loops are outside the batch dialect: use a .sh helper script',
      'T.BAT:4: COPY is a cmd built-in outside the batch dialect: use a program (cp, mv, rm, mkdir, cat) or a .sh helper script',
    ]);
    const warned = await runBat(bat('@echo off\r\necho runs\r\nif 1==2 goto nolabel\r\n'));
    expect(warned).toMatchObject({ code: 0, stdout: 'runs\n', stderr: '' });
  });

  it('a CALLed file outside the dialect stops the run when it is called, naming its own file and line', async () => {
    const r = await runBat(bat('@echo off\r\necho before\r\ncall bad.bat\r\necho after\r\n'), { files: { 'bad.bat': 'echo x\r\ncls\r\n' } });
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('before\n');
    expect(r.stderr).toMatch(/bad\.bat:2: CLS is a cmd built-in outside the batch dialect/);
  });
});
