// After tsc: writes dist/path, the commands folder (lowercase and uppercase launchers).
const { writeCommandsDir, COMMANDS_DIR } = require('../dist/platform/shims.js');
writeCommandsDir(COMMANDS_DIR);
