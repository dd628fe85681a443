#!/bin/sh
# WEB group stop script: sees the event its group was started with, and why it stops (CLP_FACTOR).
WEB_DATA="${WEB_DATA:-$CLP_SCRIPT_PATH/data}"

case "$ARMS_EVENT" in
  START)    ARMLOG "NORMAL STOP WEB GROUP SCRIPT ($CLP_FACTOR)" ;;
  FAILOVER) ARMLOG "FAILOVER STOP WEB GROUP SCRIPT ($CLP_FACTOR)" ;;
  *)        ARMLOG "ERROR NO_ARM WEB GROUP" /ARM; exit 0 ;;
esac

# Nothing was started on a failed disk.
if [ "$ARMS_DISK" = "FAILURE" ]; then exit 0; fi

if [ -f "$WEB_DATA/web.pid" ]; then
  pid=$(cat "$WEB_DATA/web.pid")
  kill "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  rm -f "$WEB_DATA/web.pid"
fi
ARMLOG "WWW STOPPED"
