// The walkthrough's order service: plain node:http, no npm dependencies.
// POST /neworder {"data":{"orderId":n}} saves data as key "order" through the sidecar's
// state API; GET /order reads it back. Port from APP_PORT (default 3000).
const http = require("node:http");

const daprPort = process.env.DAPR_HTTP_PORT || "3500";
const stateUrl = `http://localhost:${daprPort}/v1.0/state/statestore`;
const port = Number(process.env.APP_PORT || 3000);

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res, status, body) {
  res.writeHead(status, body ? { "content-type": "application/json" } : {});
  res.end(body || "");
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.method === "POST" && req.url === "/neworder") {
      const data = JSON.parse(await readBody(req)).data;
      console.log("Got a new order! Order ID: " + data.orderId);
      const r = await fetch(stateUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify([{ key: "order", value: data }]),
      });
      if (!r.ok) {
        const text = await r.text();
        console.log("Failed to persist state: " + r.status + " " + text);
        return send(res, 500, JSON.stringify({ error: text }));
      }
      console.log("Successfully persisted state for Order ID: " + data.orderId);
      return send(res, 200, "");
    }
    if (req.method === "GET" && req.url === "/order") {
      const r = await fetch(`${stateUrl}/order`);
      const text = await r.text();
      return send(res, r.status === 204 ? 404 : r.status, text);
    }
    send(res, 404, "");
  } catch (e) {
    console.log("error: " + e);
    send(res, 500, JSON.stringify({ error: String(e) }));
  }
});

server.listen(port, "127.0.0.1", () => console.log(`Node App listening on port ${port}!`));
