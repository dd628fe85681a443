#!/bin/sh
# WEB group stop script: sees the event its group was started with, and why it stops (CLP_FACTOR).
case "$ARMS_EVENT" in
  START)    ARMLOG "NORMAL STOP WEB GROUP SCRIPT ($CLP_FACTOR)" ;;
  FAILOVER) ARMLOG "FAILOVER STOP WEB GROUP SCRIPT ($CLP_FACTOR)" ;;
  *)        ARMLOG "ERROR NO_ARM WEB GROUP" /ARM; exit 0 ;;
esac

# Nothing was started on a failed disk.
if [ "$ARMS_DISK" = "FAILURE" ]; then exit 0; fi

ARMKILL WWW
ARMLOG "WWW STOPPED"
