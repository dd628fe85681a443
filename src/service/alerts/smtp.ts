// A small SMTP client over node:net (RFC 5321): EHLO (HELO when refused), MAIL FROM, RCPT TO, DATA
// with dot-stuffing, QUIT. No TLS and no authentication: it hands mail to a relay the operator runs
// (the local MTA, a smarthost on the LAN); a relay that wants more is reached through a command
// route (sendmail, mail). Every step is bounded by the timeout.
import * as net from 'node:net';
import * as os from 'node:os';

export interface Mail {
  host: string;
  port: number;
  /** the name given in EHLO (default: this host's name) */
  helo?: string | null;
  from: string;
  to: string[];
  subject: string;
  body: string;
  timeoutMs: number;
}

export class SmtpError extends Error {}

/** RFC 2047 for a header with more than ASCII; CR and LF never reach a header. */
function header(text: string): string {
  const flat = text.replace(/[\r\n]+/g, ' ');
  return /^[\x20-\x7e]*$/.test(flat) ? flat : `=?UTF-8?B?${Buffer.from(flat, 'utf8').toString('base64')}?=`;
}

/** The message as DATA carries it: CRLF line ends, a leading dot doubled, ended by CRLF.CRLF. */
export function dataBlock(m: Pick<Mail, 'from' | 'to' | 'subject' | 'body'>, date = new Date()): string {
  const id = `${date.getTime()}.${process.pid}.${Math.random().toString(36).slice(2)}@${os.hostname().replace(/[^A-Za-z0-9.-]/g, '') || 'localhost'}`;
  const head = [
    `From: ${m.from}`,
    `To: ${m.to.join(', ')}`,
    `Subject: ${header(m.subject)}`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${id}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  const body = m.body.replace(/\r?\n/g, '\r\n').split('\r\n').map((l) => (l.startsWith('.') ? `.${l}` : l));
  return `${head.join('\r\n')}\r\n\r\n${body.join('\r\n')}\r\n.\r\n`;
}

export function sendMail(m: Mail): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host: m.host, port: m.port });
    let buffer = '';
    let waiting: ((code: number, text: string) => void) | null = null;
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => finish(new SmtpError(`SMTP ${m.host}:${m.port}: no answer within ${m.timeoutMs / 1000} s`)), m.timeoutMs);
    socket.setEncoding('utf8');
    socket.on('error', (e) => finish(new SmtpError(`SMTP ${m.host}:${m.port}: ${e.message}`)));
    socket.on('close', () => finish(new SmtpError(`SMTP ${m.host}:${m.port}: the server closed the connection`)));
    const lines: string[] = [];
    socket.on('data', (d: string) => {
      buffer += d;
      if (buffer.length > 1024 * 1024) return finish(new SmtpError(`SMTP ${m.host}:${m.port}: an answer longer than 1 MiB`));
      let i: number;
      while ((i = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, i).replace(/\r$/, '');
        buffer = buffer.slice(i + 1);
        lines.push(line);
        // A reply ends with a line whose code is followed by a space (or nothing): "250 OK".
        if (/^\d{3}(?: |$)/.test(line)) {
          const text = lines.join(' | ');
          lines.length = 0;
          const w = waiting;
          waiting = null;
          w?.(Number(line.slice(0, 3)), text);
        }
      }
    });
    const reply = () => new Promise<{ code: number; text: string }>((res) => (waiting = (code, text) => res({ code, text })));
    const step = async (send: string | null, ok: (code: number) => boolean, what: string) => {
      const r = reply();
      if (send !== null) socket.write(send);
      const { code, text } = await r;
      if (!ok(code)) throw new SmtpError(`SMTP ${m.host}:${m.port}: ${what} refused: ${text}`);
      return code;
    };
    const helo = m.helo || os.hostname().split('.')[0] || 'localhost';
    (async () => {
      await step(null, (c) => c === 220, 'the greeting');
      const ehlo = await step(`EHLO ${helo}\r\n`, () => true, 'EHLO');
      if (ehlo !== 250) await step(`HELO ${helo}\r\n`, (c) => c === 250, 'HELO');
      await step(`MAIL FROM:<${m.from}>\r\n`, (c) => c === 250, `MAIL FROM:<${m.from}>`);
      for (const to of m.to) await step(`RCPT TO:<${to}>\r\n`, (c) => c === 250 || c === 251, `RCPT TO:<${to}>`);
      await step('DATA\r\n', (c) => c === 354, 'DATA');
      await step(dataBlock(m), (c) => c === 250, 'the message');
      // The mail is accepted; QUIT is a courtesy.
      socket.write('QUIT\r\n');
      finish();
    })().catch((e: Error) => finish(e));
  });
}
