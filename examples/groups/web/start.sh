#!/bin/sh
# WEB group start script. Branches the way the guide's START.BAT does: on the event first, then on
# the data disk; the application is started under a watch only on a usable disk.
WEB_DATA="${WEB_DATA:-$CLP_SCRIPT_PATH/data}"
export WEB_DATA

case "$ARMS_EVENT" in
  START)    ARMLOG "NORMAL START WEB GROUP SCRIPT" ;;
  FAILOVER) ARMLOG "FAILOVER START WEB GROUP SCRIPT (was on $CLP_SERVER_PREV)" ;;
  RECOVER)  ARMLOG "RECOVER START WEB GROUP"; exit 0 ;;
  *)        ARMLOG "ERROR NO_ARM WEB GROUP" /ARM; exit 0 ;;
esac

if [ "$ARMS_DISK" = "FAILURE" ]; then
  ARMLOG "ERROR DISK WEB GROUP (data disk $WEB_DATA not usable)" /ARM
  # Only the HOME server moves the group on; OTHER keeps it, so it cannot bounce between servers.
  # Asynchronous: the failover runs after this script has ended.
  if [ "$ARMS_SERVER" = "HOME" ]; then ARMFOVER /F "$ARMS_GROUPNAME" & fi
  exit 0
fi

# The application, watched: restarted up to 3 times an hour, then the group fails over.
ARMLOAD WWW /R 3 /H 1 /FOV node ./server.js

# Online means answering: wait up to 10 s for the port.
i=0
until node -e "require('net').connect(${WEB_PORT:-8080}, '127.0.0.1').on('connect', () => process.exit(0)).on('error', () => process.exit(1))"; do
  i=$((i + 1))
  if [ $i -ge 50 ]; then ARMLOG "WWW DID NOT START" /ARM /L ERR; exit 1; fi
  sleep 0.2
done
ARMLOG "WWW STARTED on port ${WEB_PORT:-8080} (server role $ARMS_SERVER)"
