#!/bin/bash
# lcrd_plugin_channel.sh: lcrd started the way the plugin starts it (--plugin-fd), driven
# by fake_plugin: READY, TASK_STARTED / TASK_EXITED, pidfd watching, and a clean exit when
# the channel closes or SHUTDOWN arrives.
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
make_root "$WORK/root" "$(id -u)"
"$LCR_BUILDDIR/tests/helper/fake_plugin" "$LCRD" "$WORK/root/$(id -u)"
