#!/bin/sh
# WEB group start script. Branches the way the guide's START.BAT does: on the event first, then on
# the data disk; the application is started only on a usable disk.
WEB_DATA="${WEB_DATA:-$CLP_SCRIPT_PATH/data}"
export WEB_DATA

case "$ARMS_EVENT" in
  START)    ARMLOG "NORMAL START WEB GROUP SCRIPT" ;;
  FAILOVER) ARMLOG "FAILOVER START WEB GROUP SCRIPT" ;;
  RECOVER)  ARMLOG "RECOVER START WEB GROUP"; exit 0 ;;
  *)        ARMLOG "ERROR NO_ARM WEB GROUP" /ARM; exit 0 ;;
esac

if [ "$ARMS_DISK" = "FAILURE" ]; then
  ARMLOG "ERROR DISK WEB GROUP (data disk $WEB_DATA not usable)" /ARM
  if [ "$ARMS_SERVER" = "OTHER" ]; then exit 0; fi
  # On the HOME server the group should move on: ARMFOVER comes with the failover issue.
  exit 1
fi

# The application outlives this script; its output goes to the data disk, not to our pipes.
nohup node ./server.js >>"$WEB_DATA/web.log" 2>&1 &
echo $! >"$WEB_DATA/web.pid"

# Online means answering: wait up to 10 s for the port.
i=0
until node -e "require('net').connect(${WEB_PORT:-8080}, '127.0.0.1').on('connect', () => process.exit(0)).on('error', () => process.exit(1))"; do
  i=$((i + 1))
  if [ $i -ge 50 ]; then ARMLOG "WWW DID NOT START" /ARM /L ERR; exit 1; fi
  sleep 0.2
done
ARMLOG "WWW STARTED on port ${WEB_PORT:-8080} (server role $ARMS_SERVER)"
