// The dialect's built-in commands and command lookup, with cmd's ERRORLEVEL rules, through the real
// interpreter.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitCodeOf } from '../../src/batch/exec';
import { sleep, tempDir } from '../helpers';
import { bat, outLines, runBat } from './run-bat';

describe('SET', () => {
  it('keeps the value as written (trailing blanks too); "NAME=value" ends at the last quote; SET NAME= undefines', async () => {
    const r = await runBat(bat(`
      @echo off
      set A=with trailing  
      set "B=quoted value" this is ignored
      set C=x
      set C=
      echo [%A%] [%B%] [%C%]
      if defined C echo C is still defined
    `));
    expect(r.stdout).toBe('[with trailing  ] [quoted value] []\n');
  });

  it('SET NAME =value names the variable "NAME " (blanks are part of the name), as in cmd', async () => {
    const r = await runBat(bat(`
      @echo off
      set X = one
      echo [%X%] [%X %]
    `));
    expect(r.stdout).toBe('[] [ one]\n');
  });

  it('SET prefix lists the matching variables; a prefix nothing matches: message and ERRORLEVEL 1', async () => {
    const r = await runBat(bat(`
      @echo off
      set ZZTEST_B=2
      set zztest_a=1
      set ZZTEST
      set ZZNOTHING || echo failed
      echo %ERRORLEVEL%
    `));
    expect(r.stdout).toBe('zztest_a=1\nZZTEST_B=2\nfailed\n1\n');
    expect(r.stderr).toBe('Environment variable ZZNOTHING not defined\n');
    expect(r.code).toBe(1); // ECHO kept it: the batch ends with it
  });

  it('in a .bat file SET keeps ERRORLEVEL; in a .cmd file it clears it (cmd\'s one difference)', async () => {
    const text = bat(`
      @echo off
      false
      set X=1
      echo %ERRORLEVEL%
    `);
    expect((await runBat(text, { name: 'K.BAT' })).stdout).toBe('1\n');
    expect((await runBat(text, { name: 'K.CMD' })).stdout).toBe('0\n');
  });

  it('variables reach the programs the script runs, names as first spelled', async () => {
    const r = await runBat(bat(`
      @echo off
      set MyVar=for the child
      set MYVAR=%MyVar%!
      sh -c "echo $MyVar"
    `));
    expect(r.stdout).toBe('for the child!\n');
  });
});

describe('SET /A', () => {
  it('integer arithmetic with cmd\'s precedence, names without %, undefined names as 0, assignment operators and ","', async () => {
    const r = await runBat(bat(`
      @echo off
      set N=5
      set /a A=1+2*3, B=(1+2)*3, C=N*2, D=UNSET+1, E=-7/2, F=7 %% 3, G=-7 %% 3
      set /a N+=10, N*=2
      set /a "H=6&3, I=6|3, J=6^3, K=1<<4, L=-16>>2, M=~0, O=!0, P=!5"
      set /a Q=0x1F + 010 + 9
      echo %A% %B% %C% %D% %E% %F% %G% %N%
      echo %H% %I% %J% %K% %L% %M% %O% %P% %Q%
    `));
    expect(r.stdout).toBe('7 9 10 1 -3 1 -1 30\n2 7 5 16 -4 -1 1 0 48\n');
  });

  it('wraps at 32 bits', async () => {
    const r = await runBat(bat(`
      @echo off
      set /a A=2147483647+1, B=0xFFFFFFFF, C=65536*65536
      echo %A% %B% %C%
    `));
    expect(r.stdout).toBe('-2147483648 -1 0\n');
  });

  it('errors print cmd\'s message and set its ERRORLEVEL; the variable is not changed', async () => {
    // (Written as they are, the malformed expressions would be refused before the script runs: see check.test.ts.)
    const r = await runBat(bat(`
      @echo off
      set R=1
      set ZERO=0
      set OPEN=(1+2
      set DANGLING=1+
      set /a R=10/ZERO
      echo %ERRORLEVEL% %R%
      set /a R=%OPEN%
      echo %ERRORLEVEL% %R%
      set /a R=%DANGLING%
      echo %ERRORLEVEL% %R%
    `));
    expect(r.stdout).toBe('1073750993 1\n1073750058 1\n1073750056 1\n');
    expect(r.stderr).toBe('Divide by zero error.\nUnbalanced parenthesis.\nMissing operand.\n');
  });
});

describe('SETLOCAL and ENDLOCAL', () => {
  it('ENDLOCAL restores the variables and the folder; SETLOCAL sets ERRORLEVEL 0', async () => {
    const r = await runBat(
      bat(`
        @echo off
        set KEEP=outer
        false
        setlocal
        echo %ERRORLEVEL%
        set KEEP=inner
        set NEW=x
        cd sub
        endlocal
        echo [%KEEP%] [%NEW%] [%CD%]
      `),
      { files: { 'sub/f': '' } },
    );
    expect(r.stdout).toBe(`0\n[outer] [] [${r.dir}]\n`);
  });

  it('the end of a CALLed context ends its SETLOCALs; ENDLOCAL & SET passes a value out (the line is expanded first)', async () => {
    const r = await runBat(bat(`
      @echo off
      call :sub
      echo [%INNER%] [%RESULT%]
      goto :eof
      :sub
      setlocal
      set INNER=gone
      set TMPV=computed
      endlocal & set RESULT=%TMPV%
      setlocal
      set INNER=gone too
    `));
    expect(r.stdout).toBe('[] [computed]\n');
  });

  it('ENDLOCAL cannot end the SETLOCAL of a caller', async () => {
    const r = await runBat(bat(`
      @echo off
      setlocal
      set V=local
      call :sub
      echo %V%
      goto :eof
      :sub
      endlocal
    `));
    expect(r.stdout).toBe('local\n');
  });
});

describe('EXIT', () => {
  it('EXIT n ends the whole run with n, even from inside a CALL', async () => {
    const r = await runBat(bat(`
      @echo off
      call :sub
      echo not reached
      :sub
      exit 5
    `));
    expect(r).toMatchObject({ code: 5, stdout: '' });
  });

  it('EXIT without a number ends with the current ERRORLEVEL; EXIT /B n at the top ends with n', async () => {
    expect((await runBat(bat('@echo off\nfalse\nexit\necho no'))).code).toBe(1);
    expect((await runBat(bat('@echo off\nexit /b 3\necho no'))).code).toBe(3);
    expect((await runBat(bat('@echo off\nexit /b\n'))).code).toBe(0);
  });

  it('an ERRORLEVEL beyond 0..255 becomes a process exit code that is still non-zero', () => {
    expect([0, 1, 255, 256, 9009, -1, 1073750993].map(exitCodeOf)).toEqual([0, 1, 255, 255, 49, 255, 209]);
  });
});

describe('CD, PUSHD, POPD', () => {
  it('CD changes the folder for what follows (programs and paths); CD alone prints it; CD .. and backslashes; any case', async () => {
    const r = await runBat(
      bat(`
        @echo off
        cd Sub\\Deeper
        pwd
        cd
        cd ..
        echo %CD%
        cd /D "%~dp0"
        cat sub/deeper/marker
      `),
      { files: { 'sub/deeper/marker': 'marked\n' } },
    );
    expect(outLines(r.stdout)).toEqual([`${r.dir}/sub/deeper`, `${r.dir}/sub/deeper`, `${r.dir}/sub`, 'marked']);
  });

  it('CD to a folder that is not there: cmd\'s message and ERRORLEVEL 1; CD clears ERRORLEVEL on success', async () => {
    const r = await runBat(bat(`
      @echo off
      cd nowhere || echo failed
      echo %ERRORLEVEL%
      false
      cd .
      echo %ERRORLEVEL%
    `));
    expect(r.stdout).toBe('failed\n1\n0\n');
    expect(r.stderr).toBe('The system cannot find the path specified.\n');
  });

  it('PUSHD and POPD keep a stack of folders; POPD keeps ERRORLEVEL', async () => {
    const r = await runBat(
      bat(`
        @echo off
        pushd a
        pushd b
        echo %CD%
        popd
        echo %CD%
        false
        popd
        echo %CD% %ERRORLEVEL%
      `),
      { files: { 'a/b/f': '' } },
    );
    expect(outLines(r.stdout)).toEqual([`${r.dir}/a/b`, `${r.dir}/a`, `${r.dir} 1`]);
  });
});

describe('command lookup', () => {
  it('ARM* names run the commands folder\'s commands (PATH\'s first entry) in any case', async () => {
    const r = await runBat(bat(`
      @echo off
      armsleep 0 && ArmSleep 0 && ARMSLEEP 0 && echo all ran
      ARMSLEEP /? > NUL
      echo help %ERRORLEVEL%
      ARMSLEEP not-a-number 2> NUL
      echo usage %ERRORLEVEL%
    `));
    expect(r.stdout).toBe('all ran\nhelp 0\nusage 2\n');
  });

  it('a name written in upper case finds a lower-case program; a mixed-case one does not', async () => {
    const r = await runBat(bat(`
      @echo off
      TRUE
      echo %ERRORLEVEL%
      FALSE
      echo %ERRORLEVEL%
      True 2> NUL
      echo %ERRORLEVEL%
    `));
    expect(r.stdout).toBe('0\n1\n9009\n');
  });

  it('a command that is not found: cmd\'s two-line message on stderr and ERRORLEVEL 9009', async () => {
    const r = await runBat(bat(`
      @echo off
      nosuchprogram arg || echo failed %ERRORLEVEL%
      echo %ERRORLEVEL%
    `));
    expect(r.stdout).toBe('failed 0\n9009\n');
    expect(r.stderr).toBe("'nosuchprogram' is not recognized as an internal or external command,\noperable program or batch file.\n");
  });

  it('a program in the current folder is found first, as in cmd; a path whose folder is missing gives ERRORLEVEL 3', async () => {
    const r = await runBat(
      bat(`
        @echo off
        tool one "two words"
        nodir\\tool
        echo %ERRORLEVEL%
      `),
      { files: { tool: '#!/bin/sh\necho "tool got [$1] [$2]"\n' } },
    );
    expect(r.stdout).toBe('tool got [one] [two words]\n3\n');
    expect(r.stderr).toBe('The system cannot find the path specified.\n');
  });

  it('arguments reach a program split the Windows way: quotes group and are removed, "" inside quotes is a quote', async () => {
    const r = await runBat(
      bat(`
        @echo off
        show a "b c" "say ""hi""" d\\e "f\\"g" x,y
      `),
      { files: { show: '#!/bin/sh\nfor a in "$@"; do printf "[%s]" "$a"; done; echo\n' } },
    );
    expect(r.stdout).toBe('[a][b c][say "hi"][d\\e][f"g][x,y]\n');
  });

  it('a batch file on PATH or in the folder is found without its extension and without regard to case', async () => {
    const r = await runBat(bat('@echo off\r\ncall HELPER one\r\ncall sub/Helper2.BAT two\r\n'), {
      files: { 'helper.bat': bat('echo helper %1'), 'sub/helper2.bat': bat('echo helper2 %1') },
    });
    expect(r.stdout).toBe('helper one\nhelper2 two\n');
  });
});

describe('START', () => {
  it('runs a batch file asynchronously in a new interpreter ("title" and all); ERRORLEVEL is kept', async () => {
    const dir = tempDir();
    const r = await runBat(
      bat(`
        @echo off
        false
        start "a title" slow.bat "%~dp0done.txt"
        echo started %ERRORLEVEL%
      `),
      { dir, files: { 'slow.bat': bat('@echo off\r\nsleep 0.5\r\necho finished > %1\r\nexit') } },
    );
    expect(r).toMatchObject({ stdout: 'started 1\n', code: 1 });
    expect(fs.existsSync(path.join(dir, 'done.txt'))).toBe(false);
    const deadline = Date.now() + 10_000;
    while (!fs.existsSync(path.join(dir, 'done.txt')) && Date.now() < deadline) await sleep(50);
    expect(fs.readFileSync(path.join(dir, 'done.txt'), 'utf8')).toBe('finished \n');
  });

  it('START /WAIT waits and takes the exit code; /B shares the output; a program that is not there: message and 9059', async () => {
    const r = await runBat(
      bat(`
        @echo off
        start /wait child.bat 6
        echo waited %ERRORLEVEL%
        start /b /wait sh -c "echo from the shared console"
        start "" /MIN nosuch.exe
        echo %ERRORLEVEL%
      `),
      { files: { 'child.bat': bat('@echo off\r\nexit %1') } },
    );
    expect(r.stdout).toBe('waited 6\nfrom the shared console\n9059\n');
    expect(r.stderr).toBe('The system cannot find the file nosuch.exe.\n');
  });

  it('a started program outlives the script, in its process group (a timeout stops both)', async () => {
    const dir = tempDir();
    const r = await runBat(bat('@echo off\r\nstart sh -c "echo $$ > pid; sleep 30"\r\n'), { dir });
    expect(r.code).toBe(0);
    const deadline = Date.now() + 5000;
    while (!fs.existsSync(path.join(dir, 'pid')) && Date.now() < deadline) await sleep(25);
    const pid = Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8'));
    expect(() => process.kill(pid, 0)).not.toThrow();
    process.kill(pid, 'SIGKILL');
  });
});

describe('ERRORLEVEL is kept by ECHO, REM, GOTO, IF, and set by programs', () => {
  it('follows cmd', async () => {
    const r = await runBat(bat(`
      @echo off
      sh -c "exit 7"
      echo a
      rem b
      goto next
      :next
      if 1==1 echo c
      echo %ERRORLEVEL%
      sh -c "exit 0"
      echo %ERRORLEVEL%
    `));
    expect(r.stdout).toBe('a\nc\n7\n0\n');
  });
});
