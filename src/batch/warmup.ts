// Runs a made-up script through the interpreter a number of times, output thrown away, so that V8
// has compiled and optimised the interpreter's hot paths (expansion, parsing, IF, SET /A, GOTO,
// CALL, ECHO, FOR, delayed expansion) before a real script arrives. A group script then runs at the speed of a warm
// interpreter although it is the only script its process ever runs. Nothing here touches the
// file system (the script is made in memory) or starts a program.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Interpreter } from './exec';
import { preloadOwnCommands } from './own-commands';
import { remember } from './source';

/** Where the made-up script claims to live: never read, never written. */
const FILE = path.resolve('/', '.arms-batch-warmup.bat');

/** The same constructs as a group script: a loop of labels, SET /A, IF in its forms, CALL :label, SETLOCAL, ECHO. */
function text(): string {
  const lines = ['@ECHO OFF', 'SETLOCAL', 'SET /A I=0', 'SET NAME=warm up', ':LOOP', 'SET /A I+=1'];
  for (let k = 1; k <= 6; k++) {
    lines.push(
      `SET V${k}=%NAME% %I% ${k}`,
      `IF "%V${k}%" == "%NAME% %I% ${k}" GOTO OK${k}`,
      `ECHO mismatch ${k}`,
      `:OK${k}`,
      `IF /I "%ARMS_EVENT%" NEQ "start" (ECHO event %ARMS_EVENT%) ELSE ECHO start`,
      `IF DEFINED V${k} IF NOT ERRORLEVEL 1 ECHO step %I%.${k}: %V${k}%`,
      `IF %I% GEQ 100 GOTO END`,
    );
  }
  lines.push('CALL :SUB %I% "two words"', 'IF %I% LSS 8 GOTO LOOP', 'GOTO END', ':SUB', 'SET /A T=%1 * 2 + 1', 'ECHO %~1 %~2 %T% & REM note', 'EXIT /B 0', ':END');
  // FOR in its forms and delayed expansion (over strings and numbers: no file is read).
  lines.push(
    'SETLOCAL ENABLEDELAYEDEXPANSION',
    'SET /A S=0',
    'FOR /L %%N IN (1,1,8) DO (',
    '  SET /A S+=%%N',
    '  FOR /F "tokens=1,2* delims=," %%A IN ("a%%N,%%N,rest of it") DO IF "%%A"=="a5" (ECHO !S! %%B %%C) ELSE SET LAST=%%~B',
    ')',
    'FOR %%W IN (x y "z w") DO ECHO %%~W !LAST! !S:~0,2!',
    'ENDLOCAL',
    'ENDLOCAL',
  );
  return lines.join('\r\n') + '\r\n';
}

/** `rounds` runs of the made-up script; returns how long they took, in ms. */
export async function warmUp(rounds: number): Promise<number> {
  const began = performance.now();
  preloadOwnCommands();
  remember(FILE, Buffer.from(text()));
  const sink = fs.openSync(process.platform === 'win32' ? '\\\\.\\NUL' : '/dev/null', 'w');
  try {
    for (let i = 0; i < rounds; i++) {
      const sh = new Interpreter({ env: { ARMS_EVENT: i % 2 ? 'START' : 'FAILOVER', PATH: '' }, cwd: path.dirname(FILE), entry: __filename });
      await sh.run(FILE, FILE, ['arg'], { in: 0, out: sink, err: sink });
    }
  } finally {
    fs.closeSync(sink);
  }
  return performance.now() - began;
}
