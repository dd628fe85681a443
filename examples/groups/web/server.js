// The WEB group's application: a small HTTP service on loopback that counts its visitors in a
// file on the group's data disk (WEB_DATA), so a restart or failover keeps the count.
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const port = Number(process.env.WEB_PORT || 8080);
const data = process.env.WEB_DATA || '.';
const counter = path.join(data, 'visits');

const server = http.createServer((req, res) => {
  let visits = 0;
  try {
    visits = Number(fs.readFileSync(counter, 'utf8')) || 0;
  } catch {}
  visits++;
  fs.writeFileSync(counter, String(visits));
  res.setHeader('content-type', 'text/plain');
  res.end(`hello from group ${process.env.ARMS_GROUPNAME} (started as ${process.env.ARMS_EVENT}), visit ${visits}\n`);
});
server.listen(port, '127.0.0.1', () => console.log(`web: listening on 127.0.0.1:${port}, data in ${data}`));
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
