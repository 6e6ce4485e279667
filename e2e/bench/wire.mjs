// A TCP proxy in front of a relay that counts what crosses the wire: bytes each way, HTTP
// requests (method, path, time) and connections; optionally delays every chunk to emulate a
// round-trip time and paces what the server sends to a bandwidth (shared by all connections). While the relay is stopped, each connection is closed at once (the browser
// sees a failed request, as with a stopped server).
import net from "node:net";

const HEADER_END = "\r\n\r\n";

export class Wire {
  /** `target()` gives the upstream port (the relay's, which may change after a restart). */
  constructor(target, { oneWayDelayMs = 0, downMbps = 0 } = {}) {
    this.target = target;
    this.delay = oneWayDelayMs;
    this.bytesPerMs = downMbps > 0 ? (downMbps * 1e6) / 8 / 1000 : 0;
    this.downFreeAt = 0; // when the emulated downlink has sent everything queued so far
    this.reset();
  }

  reset() {
    this.bytesDown = 0; // server to browser
    this.bytesUp = 0; // browser to server
    this.requests = []; // { at (ms since the epoch), method, path, acceptEncoding }
    this.connections = 0;
  }

  async start() {
    this.server = net.createServer((client) => this.#connect(client));
    await new Promise((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = this.server.address().port;
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  async stop() {
    await new Promise((resolve) => this.server.close(resolve));
  }

  #connect(client) {
    this.connections += 1;
    const upstream = net.connect(this.target(), "127.0.0.1");
    const later = (fn) => (this.delay > 0 ? setTimeout(fn, this.delay) : fn());
    let pending = "";
    let upgraded = false;
    client.on("data", (chunk) => {
      this.bytesUp += chunk.length;
      if (!upgraded) {
        pending += chunk.toString("latin1");
        for (let end = pending.indexOf(HEADER_END); end >= 0; end = pending.indexOf(HEADER_END)) {
          const head = pending.slice(0, end);
          pending = pending.slice(end + HEADER_END.length);
          const [method, path] = head.split("\r\n")[0].split(" ");
          const acceptEncoding = head.match(/^accept-encoding:\s*(.*)$/im)?.[1] ?? "";
          this.requests.push({ at: Date.now(), method, path, acceptEncoding });
          if (/^upgrade:\s*websocket/im.test(head)) { upgraded = true; break; }
        }
      }
      later(() => upstream.write(chunk));
    });
    upstream.on("data", (chunk) => {
      this.bytesDown += chunk.length;
      if (this.bytesPerMs === 0) { later(() => client.write(chunk)); return; }
      this.downFreeAt = Math.max(Date.now(), this.downFreeAt) + chunk.length / this.bytesPerMs;
      setTimeout(() => client.write(chunk), this.downFreeAt - Date.now() + this.delay);
    });
    const close = () => later(() => { client.destroy(); upstream.destroy(); });
    client.on("close", close);
    upstream.on("close", close);
    client.on("error", close);
    upstream.on("error", close);
  }
}
