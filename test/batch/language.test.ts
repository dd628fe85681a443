// The batch dialect's language, one construct or cmd rule per test, through the real interpreter.
// Expected values are cmd's documented behaviour (docs/batch.md names the rule each test shows).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bat, outLines, runBat } from './run-bat';

describe('lines, labels and comments', () => {
  it('reads CRLF and LF files alike; REM and :: are comments; labels match without regard to case', async () => {
    const text = '@echo off\nREM a comment & echo not run\n:: another comment\ngoto Second\necho skipped\n:SECOND\necho reached\n';
    const lf = await runBat(text);
    const crlf = await runBat(text.replace(/\n/g, '\r\n'));
    for (const r of [lf, crlf]) expect(r).toMatchObject({ code: 0, stdout: 'reached\n', stderr: '' });
  });

  it('falling off the end: the exit code is the last command\'s ERRORLEVEL, also after GOTO to a final label', async () => {
    expect((await runBat(bat(`
      @echo off
      false
    `))).code).toBe(1);
    const r = await runBat(bat(`
      @echo off
      false
      goto end
      echo not here
      :end
    `));
    expect(r.code).toBe(1);
  });

  it('GOTO :EOF ends the batch; GOTO with a colon and GOTO:label work; the next label down wins, wrapping to the top', async () => {
    const r = await runBat(bat(`
      @echo off
      goto:twice
      :back
      echo back at the top
      goto :EOF
      :twice
      echo first twice
      goto back
      :twice
      echo second twice
    `));
    expect(r.stdout).toBe('first twice\nback at the top\n');
  });

  it('a GOTO to a label that is not there: cmd\'s message, ERRORLEVEL 1, and the batch context ends (the caller goes on)', async () => {
    const r = await runBat(bat(`
      @echo off
      call :sub
      echo caller goes on with %ERRORLEVEL%
      goto nowhere
      echo not reached
      :sub
      goto missing
      echo not reached either
    `));
    expect(r.stdout).toBe('caller goes on with 1\n');
    expect(r.stderr).toBe('The system cannot find the batch label specified - missing\nThe system cannot find the batch label specified - nowhere\n');
    expect(r.code).toBe(1);
  });
});

describe('percent expansion', () => {
  it('%VAR% without regard to case; an undefined variable is empty; %% is %; a % with no partner is dropped', async () => {
    const r = await runBat(bat(`
      @echo off
      set Greeting=hi
      echo [%GREETING%] [%greeting%] [%NOT_SET%]
      echo 100%% and 50% off
    `));
    expect(r.stdout).toBe('[hi] [hi] []\n100% and 50 off\n');
  });

  it('%0..%9, %~1 and %* as written, quotes kept except with ~; %9 beyond the arguments is empty; SHIFT', async () => {
    // An argument given to the interpreter as one argv element stays one batch argument (quoted when it holds a separator).
    const r = await runBat(
      bat(`
        @echo off
        echo [%~nx0] [%1] [%2] [%~2] [%3] [%9]
        echo [%*]
        shift
        echo [%1] [%~1]
      `),
      { args: ['one', 'two three', 'x=y'] },
    );
    expect(outLines(r.stdout)).toEqual(['[T.BAT] [one] ["two three"] [two three] ["x=y"] []', '[one "two three" "x=y"]', '["two three"] [two three]']);
  });

  it('%~dp0 is the batch file\'s folder with a trailing /, also inside CALL :label; %~f0 %~n0 %~x0', async () => {
    const r = await runBat(bat(`
      @echo off
      echo %~dp0
      echo %~f0 %~n0 %~x0
      call :sub
      goto :eof
      :sub
      echo %0 %~dp0
    `));
    expect(outLines(r.stdout)).toEqual([`${r.dir}/`, `${r.dir}/T.BAT T .BAT`, `:sub ${r.dir}/`]);
  });

  it('%ERRORLEVEL% is the current ERRORLEVEL unless a variable of that name is set', async () => {
    const r = await runBat(bat(`
      @echo off
      false
      echo %ERRORLEVEL%
      set ERRORLEVEL=42
      true
      echo %ERRORLEVEL%
    `));
    expect(r.stdout).toBe('1\n42\n');
  });

  it('substrings and replacements: %V:~s,n% %V:~-n% %V:a=b% (without regard to case) %V:*a=b%', async () => {
    const r = await runBat(bat(`
      @echo off
      set V=Hello World
      echo [%V:~0,5%] [%V:~-5%] [%V:~6%] [%V:~0,-6%] [%V:world=there%] [%V:*o=%]
    `));
    expect(r.stdout).toBe('[Hello] [World] [World] [Hello] [Hello there] [ World]\n');
  });

  it('a line is expanded when it is read: SET and %VAR% on one line see the old value (and SET keeps the blank before &)', async () => {
    const r = await runBat(bat(`
      @echo off
      set X=old
      set X=new & echo %X%
      echo %X%
    `));
    expect(r.stdout).toBe('old\nnew \n');
  });

  it('a parenthesized block is expanded as a whole when it is read: %VAR% inside sees the value from before the block', async () => {
    const r = await runBat(bat(`
      @echo off
      set X=before
      if "%X%" == "before" (
        set X=inside
        echo in the block: %X%
      )
      echo after the block: %X%
    `));
    expect(r.stdout).toBe('in the block: before\nafter the block: inside\n');
  });

  it('the value is expanded before the line is parsed: a value holding & runs two commands, as in cmd', async () => {
    const r = await runBat(bat(`
      @echo off
      set CMDS=echo one ^& echo two
      %CMDS%
    `));
    expect(r.stdout).toBe('one \ntwo\n');
  });

  it('CALL expands its line a second time', async () => {
    const r = await runBat(bat(`
      @echo off
      set NAME=TARGET
      set TARGET=found it
      call echo %%%NAME%%%
    `));
    expect(r.stdout).toBe('found it\n');
  });

  it('an invalid %~ modifier is refused before anything runs', async () => {
    const r = await runBat(bat(`
      @echo off
      echo runs?
      echo %~q1
    `));
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/T\.BAT:3: The following usage of the path operator in batch-parameter substitution is invalid: %~q1/);
  });
});

describe('IF', () => {
  it('== compares exactly, quotes included; /I ignores case; NOT negates; no blanks are needed around ==', async () => {
    const r = await runBat(bat(`
      @echo off
      set E=START
      IF "%E%" == "START" echo 1 yes
      IF "%E%" == "start" echo 2 yes
      IF /I "%E%" == "start" echo 3 yes
      IF NOT "%E%" == "STOP" echo 4 yes
      IF %E%==START echo 5 yes
      IF "%E%"==START echo 6 yes
      IF /I NOT "%E%"=="start" echo 7 yes
    `));
    expect(r.stdout).toBe('1 yes\n3 yes\n4 yes\n5 yes\n');
  });

  it('IF ERRORLEVEL n means ERRORLEVEL >= n; NOT ERRORLEVEL n means < n', async () => {
    const r = await runBat(bat(`
      @echo off
      call :three
      IF ERRORLEVEL 4 echo ge 4
      IF ERRORLEVEL 3 echo ge 3
      IF ERRORLEVEL 1 echo ge 1
      IF ERRORLEVEL 0 echo ge 0
      IF NOT ERRORLEVEL 4 echo lt 4
      IF NOT ERRORLEVEL 3 echo lt 3
      goto :eof
      :three
      exit /b 3
    `));
    expect(r.stdout).toBe('ge 3\nge 1\nge 0\nlt 4\n');
  });

  it('IF DEFINED looks at variables (case-insensitive); IF EXIST at files, folders (dir\\NUL), wildcards, without regard to case', async () => {
    const r = await runBat(
      bat(`
        @echo off
        set Present=1
        IF DEFINED present echo defined
        IF NOT DEFINED absent echo not defined
        IF EXIST data\\file.txt echo file
        IF EXIST "data\\file.txt" echo quoted
        IF EXIST DATA\\FILE.TXT echo any case
        IF EXIST data\\NUL echo folder
        IF EXIST data\\*.txt echo wildcard
        IF NOT EXIST data\\none.txt echo missing
        IF EXIST %~dp0data\\file.txt echo absolute
      `),
      { files: { 'data/file.txt': 'x' } },
    );
    expect(r.stdout).toBe('defined\nnot defined\nfile\nquoted\nany case\nfolder\nwildcard\nmissing\nabsolute\n');
  });

  it('EQU NEQ LSS LEQ GTR GEQ compare as numbers when both sides are numbers (decimal, 0x, octal), else as text', async () => {
    const r = await runBat(bat(`
      @echo off
      IF 10 GTR 9 echo 1 numeric
      IF "10" GTR "9" echo 2 text
      IF 0x10 EQU 16 echo 3 hex
      IF 010 EQU 8 echo 4 octal
      IF -1 LSS 0 echo 5 negative
      IF abc LSS abd echo 6 text less
      IF 5 GEQ 5 IF 5 LEQ 5 IF 4 NEQ 5 echo 7 all
      IF /I ABC EQU abc echo 8 nocase
    `));
    expect(r.stdout).toBe('1 numeric\n3 hex\n4 octal\n5 negative\n6 text less\n7 all\n8 nocase\n');
  });

  it('( ... ) ELSE ( ... ) over several lines, nested, and ELSE IF chains', async () => {
    const script = bat(`
      @echo off
      IF "%1" == "a" (
        echo first
        IF "%2" == "x" (
          echo nested x
        ) ELSE (
          echo nested other
        )
      ) ELSE IF "%1" == "b" (
        echo second
      ) ELSE (
        echo neither
      )
      echo done
    `);
    expect((await runBat(script, { args: ['a', 'x'] })).stdout).toBe('first\nnested x\ndone\n');
    expect((await runBat(script, { args: ['a', 'y'] })).stdout).toBe('first\nnested other\ndone\n');
    expect((await runBat(script, { args: ['b'] })).stdout).toBe('second\ndone\n');
    expect((await runBat(script, { args: ['c'] })).stdout).toBe('neither\ndone\n');
  });

  it('the rest of the line after IF\'s condition is its command: & joins it, also after a block and after ELSE', async () => {
    const r = await runBat(bat(`
      @echo off
      if 1==2 echo a & echo b
      echo ---
      if 1==2 (echo a) & echo b
      echo ---
      if 1==1 (echo a) else (echo b) & echo c
      echo ---
      if 1==2 (echo a) else (echo b) & echo c
      echo ---
      if 1==2 echo a ELSE echo b
    `));
    expect(r.stdout).toBe('---\n---\na\n---\nb\nc\n---\n');
  });

  it('an IF whose left side expands to nothing is a syntax error: the batch stops with 255', async () => {
    const r = await runBat(bat(`
      @echo off
      IF %UNSET%==x echo never
      echo not reached
    `));
    expect(r.stdout).toBe('');
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/T\.BAT:2: /);
  });
});

describe('GOTO inside blocks and chains', () => {
  it('GOTO inside a block leaves it: nothing after it in the block (or after & on its line) runs', async () => {
    const r = await runBat(bat(`
      @echo off
      (
        echo in the block
        goto out
        echo not run
      )
      echo not run either
      :out
      (echo one & goto :two & echo not run)
      :two
      echo at two
    `));
    expect(r.stdout).toBe('in the block\none \nat two\n');
  });

  it('GOTO :EOF inside an IF block inside a CALL returns from the call', async () => {
    const r = await runBat(bat(`
      @echo off
      call :sub yes
      echo returned
      goto :eof
      :sub
      if "%1" == "yes" (
        echo leaving
        goto :eof
      )
      echo not run
    `));
    expect(r.stdout).toBe('leaving\nreturned\n');
  });
});

describe('CALL', () => {
  it('CALL :label args: %0 is the label, %1.. its arguments, EXIT /B n sets ERRORLEVEL; nested calls return in order', async () => {
    const r = await runBat(bat(`
      @echo off
      call :outer "a b" c
      echo outer gave %ERRORLEVEL%
      goto :eof
      :outer
      echo %0 %~1 %2
      call :inner %2
      echo inner gave %ERRORLEVEL%
      exit /b 7
      :inner
      echo inner %*
      exit /b 3
    `));
    expect(r.stdout).toBe(':outer a b c\ninner c\ninner gave 3\nouter gave 7\n');
  });

  it('CALL file.bat runs in this interpreter: its SETs are seen by the caller; the name matches without regard to case', async () => {
    const r = await runBat(
      bat(`
        @echo off
        call SETENV.BAT value1
        echo caller sees %FROM_CALLEE%
        call setenv value2
        echo caller sees %FROM_CALLEE%
      `),
      { files: { 'setenv.bat': bat('set FROM_CALLEE=%1\r\nexit /b 0') } },
    );
    expect(r.stdout).toBe('caller sees value1\ncaller sees value2\n');
  });

  it('EXIT /B without a number keeps ERRORLEVEL; CALL of a missing label: message and ERRORLEVEL 1; CALL of a built-in clears ERRORLEVEL', async () => {
    const r = await runBat(bat(`
      @echo off
      call :two
      echo two: %ERRORLEVEL%
      call :keep
      echo keep: %ERRORLEVEL%
      call echo reset
      echo reset: %ERRORLEVEL%
      call :nosuch
      echo missing: %ERRORLEVEL%
      goto :eof
      :two
      exit /b 2
      :keep
      exit /b
    `));
    expect(r.stdout).toBe('two: 2\nkeep: 2\nreset\nreset: 0\nmissing: 1\n');
    expect(r.stderr).toBe('The system cannot find the batch label specified - nosuch\n');
  });

  it('a batch file run without CALL does not return: the rest of its line runs, the next lines do not; ERRORLEVEL is its exit code', async () => {
    const r = await runBat(
      bat(`
        @echo off
        (other.bat arg & echo rest of the line)
        echo next line
      `),
      { files: { 'other.bat': bat('@echo off\r\necho other %1\r\nexit /b 4') } },
    );
    expect(r.stdout).toBe('other arg\nrest of the line\n');
    expect(r.code).toBe(4); // ECHO keeps the ERRORLEVEL the other batch left
  });

  it('without CALL, the batch\'s exit code becomes the caller\'s when it is the last command; it keeps the caller\'s ECHO state', async () => {
    const r = await runBat(bat('@echo off\r\nother.bat\r\necho not reached\r\n'), { files: { 'other.bat': bat('exit /b 4') } });
    expect(r).toMatchObject({ code: 4, stdout: '' });
  });
});

describe('recursion', () => {
  it('CALL recursion goes deep, and a runaway one is stopped (cmd stops it too) with exit 255', async () => {
    const script = bat(`
      @echo off
      set /a D=0
      call :down %1
      echo depth %D%
      goto :eof
      :down
      set /a D+=1
      if %D% LSS %1 call :down %1
    `);
    expect((await runBat(script, { args: ['5000'] })).stdout).toBe('depth 5000\n');
    const runaway = await runBat(script, { args: ['20000'] });
    expect(runaway.code).toBe(255);
    expect(runaway.stderr).toMatch(/T\.BAT: batch recursion exceeds 10000 CALLs: stopped/);
  });
});

describe('chains and redirections', () => {
  it('&& runs on success, || on failure, & always; && and || bind tighter than &', async () => {
    const r = await runBat(bat(`
      @echo off
      true && echo and-ok
      false && echo not run
      false || echo or-ran
      true || echo not run
      false && echo not run || echo fallback
      false & echo always
    `));
    expect(r.stdout).toBe('and-ok\nor-ran\nfallback\nalways\n');
  });

  it('> >> 2> 2>&1 < and NUL; a block can be redirected as a whole', async () => {
    const r = await runBat(
      bat(`
        @echo off
        echo first> out.txt
        echo second>>out.txt
        (echo in & echo block) > block.txt
        nosuch 2> err.txt
        nosuch > both.txt 2>&1
        echo gone > NUL
        nosuch 2>nul
        cat < out.txt
      `),
      { files: {} },
    );
    const read = (f: string) => fs.readFileSync(path.join(r.dir, f), 'utf8');
    expect(r.stdout).toBe('first\nsecond\n');
    expect(r.stderr).toBe('');
    expect(read('out.txt')).toBe('first\nsecond\n');
    expect(read('block.txt')).toBe('in \nblock\n');
    expect(read('err.txt')).toMatch(/^'nosuch' is not recognized/);
    expect(read('both.txt')).toMatch(/^'nosuch' is not recognized/);
  });

  it('a redirection that cannot be opened: the command does not run, ERRORLEVEL stays, || runs', async () => {
    const r = await runBat(bat(`
      @echo off
      call :three
      echo x > no\\such\\folder\\f.txt || echo redirect failed %ERRORLEVEL%
      echo still %ERRORLEVEL%
      goto :eof
      :three
      exit /b 3
    `));
    expect(r.stdout).toBe('redirect failed 3\nstill 3\n');
    expect(r.stderr).toBe('The system cannot find the path specified.\n');
  });

  it('^ escapes, quotes protect special characters, ^ at the end of a line joins the next', async () => {
    const r = await runBat(bat(`
      @echo off
      echo a ^& b ^| c ^<d^> ^^
      echo "x & y | z"
      echo joined ^
      line
    `));
    expect(r.stdout).toBe('a & b | c <d> ^\n"x & y | z"\njoined line\n');
  });
});

describe('ECHO ON: commands are shown as cmd shows them', () => {
  it('each command is echoed after a blank line and the prompt; @ hides one; labels are never shown; REM is', async () => {
    const r = await runBat(bat(`
      Rem shown
      :label
      @echo hidden command
      echo shown %1
      @echo off
      echo quiet now
    `), { args: ['arg'] });
    expect(r.stdout).toBe(`\n${r.dir}>Rem shown\nhidden command\n\n${r.dir}>echo shown arg\nshown arg\nquiet now\n`);
  });

  it('ECHO alone tells the state; ECHO. and ECHO( print an empty line or text; one blank after ECHO is the separator', async () => {
    const r = await runBat(bat(`
      @echo off
      echo
      echo.
      echo(text
      echo  two blanks
      echo on
      @echo
    `));
    expect(r.stdout).toBe('ECHO is off.\n\ntext\n two blanks\nECHO is on.\n');
  });
});

describe('--trace', () => {
  it('prints each line as it runs, with the branch taken and where GOTO went, on stderr', async () => {
    const r = await runBat(
      bat(`
        @echo off
        IF "%1" == "START" GOTO NORMAL
        echo not here
        :NORMAL
        IF "%1" == "STOP" (echo no) ELSE (echo yes)
        false
      `),
      { args: ['START'], trace: true },
    );
    expect(r.stdout).toBe('yes\n');
    expect(outLines(r.stderr)).toEqual([
      '+ T.BAT:1: echo off',
      '+ T.BAT:2: IF "START" == "START" -> true: then',
      '+ T.BAT:2: GOTO NORMAL',
      '+ T.BAT:2: -> :NORMAL (line 4)',
      '+ T.BAT:5: IF "START" == "STOP" -> false: ELSE',
      '+ T.BAT:5: echo yes',
      '+ T.BAT:6: false',
      '+ T.BAT:6: -> ERRORLEVEL 1',
    ]);
    expect(r.code).toBe(1);
  });
});
