@ECHO OFF
REM movegroup.bat - started by START.BAT when the data disk failed.
REM Only the home server moves the group on; a standby leaves it where it is.
IF "%ARMS_SERVER%" == "OTHER" GOTO DONE
START ARMFOVER /F %ARMS_GROUPNAME%
:DONE
EXIT
