// Receivers on loopback for the alert tests, on ports the OS picks: an HTTP sink that records each
// POST (and can refuse the first ones, or never answer), and a small SMTP server that records each
// mail as it came in DATA.
import * as http from 'node:http';
import * as net from 'node:net';

export interface HttpSink {
  url: string;
  posts: Array<{ headers: http.IncomingHttpHeaders; body: any }>;
  /** requests seen, answered or not */
  seen: number;
  close(): Promise<void>;
}

export function httpSink(opts: { failFirst?: number; hang?: boolean } = {}): Promise<HttpSink> {
  let fails = opts.failFirst ?? 0;
  const hung: http.ServerResponse[] = [];
  const sink: HttpSink = { url: '', posts: [], seen: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      sink.seen++;
      if (opts.hang) {
        hung.push(res);
        return;
      }
      if (fails > 0) {
        fails--;
        res.writeHead(500).end('not now');
        return;
      }
      sink.posts.push({ headers: req.headers, body: JSON.parse(body) });
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      sink.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hook`;
      sink.close = () =>
        new Promise((r) => {
          for (const h of hung) h.destroy();
          server.closeAllConnections();
          server.close(() => r());
        });
      resolve(sink);
    }),
  );
}

export interface Mail {
  from: string;
  to: string[];
  data: string;
}

export interface SmtpSink {
  port: number;
  mails: Mail[];
  close(): Promise<void>;
}

/** Speaks enough SMTP for a client: greeting, EHLO, MAIL, RCPT, DATA (dot-unstuffed), QUIT. */
export function smtpSink(opts: { refuseRcpt?: boolean } = {}): Promise<SmtpSink> {
  const sink: SmtpSink = { port: 0, mails: [], close: async () => undefined };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    // a client that hangs up at once after QUIT resets the connection: not this test's concern
    sock.on('error', () => undefined);
    sock.on('close', () => sockets.delete(sock));
    sock.setEncoding('utf8');
    let buf = '';
    let mail: Mail = { from: '', to: [], data: '' };
    let inData = false;
    sock.write('220 sink.test ESMTP ready\r\n');
    sock.on('data', (d: string) => {
      buf += d;
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end === -1) return;
          mail.data = buf.slice(0, end + 2).replace(/^\.\./gm, '.');
          buf = buf.slice(end + 5);
          inData = false;
          sink.mails.push(mail);
          mail = { from: '', to: [], data: '' };
          sock.write('250 2.0.0 queued\r\n');
          continue;
        }
        const i = buf.indexOf('\r\n');
        if (i === -1) return;
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const cmd = line.slice(0, 4).toUpperCase();
        if (cmd === 'EHLO') sock.write('250-sink.test\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n');
        else if (cmd === 'MAIL') {
          mail.from = /<(.*)>/.exec(line)?.[1] ?? '';
          sock.write('250 2.1.0 ok\r\n');
        } else if (cmd === 'RCPT') {
          if (opts.refuseRcpt) sock.write('550 5.1.1 no such user\r\n');
          else {
            mail.to.push(/<(.*)>/.exec(line)?.[1] ?? '');
            sock.write('250 2.1.5 ok\r\n');
          }
        } else if (cmd === 'DATA') {
          inData = true;
          sock.write('354 go ahead\r\n');
        } else if (cmd === 'QUIT') {
          sock.end('221 2.0.0 bye\r\n');
        } else sock.write('502 5.5.2 what\r\n');
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      sink.port = (server.address() as net.AddressInfo).port;
      sink.close = () =>
        new Promise((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        });
      resolve(sink);
    }),
  );
}
