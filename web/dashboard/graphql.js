// The dashboard reads only GraphQL, like any other client: queries over HTTP, live
// updates over the graphql-transport-ws protocol, documents kept in queries/*.graphql.
// The gateway knows those documents from start-up: the page sends each one's SHA-256
// (a persisted query) and fetches a text only for a document the gateway does not list.
const documents = new Map();
let hashes = null;

async function hashesOf() {
  hashes ??= fetch("/dashboard/queries.json").then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
  return hashes;
}

// What a request carries for a document: its hash when the gateway knows it, else its text.
async function operation(name) {
  const hash = (await hashesOf())[name];
  if (hash) return { extensions: { persistedQuery: { version: 1, sha256Hash: hash } } };
  return { query: await documentOf(name) };
}

async function documentOf(name) {
  if (!documents.has(name)) {
    const response = await fetch(`/dashboard/queries/${name}.graphql`);
    if (!response.ok) throw new Error(`query ${name}: ${response.status}`);
    documents.set(name, await response.text());
  }
  return documents.get(name);
}

export class GraphQLError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.codes = errors.map((e) => e.extensions?.code);
  }
}

export class Gateway {
  constructor(token) {
    this.token = token;
  }

  async query(name, variables = {}) {
    const response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${this.token}` },
      body: JSON.stringify({ ...(await operation(name)), variables }),
    });
    const body = await response.json();
    if (body.errors?.length) throw new GraphQLError(body.errors);
    return body.data;
  }

  // Every page of a connection, `path` naming it in the result.
  async all(name, path, variables = {}) {
    const items = [];
    let after = null;
    for (;;) {
      const data = await this.query(name, { ...variables, first: 100, after });
      const connection = data[path];
      items.push(...connection.edges.map((edge) => edge.node));
      if (!connection.pageInfo.hasNextPage) return items;
      after = connection.pageInfo.endCursor;
    }
  }

  // Calls onData for each event; reconnects with a growing pause; returns a stop function.
  subscribe(name, variables, { onData, onStatus }) {
    let socket = null;
    let stopped = false;
    let pause = 500;
    const open = async () => {
      const asked = await operation(name);
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      socket = new WebSocket(`${scheme}://${location.host}/graphql`, "graphql-transport-ws");
      socket.onopen = () => {
        socket.send(JSON.stringify({ type: "connection_init", payload: { Authorization: `Bearer ${this.token}` } }));
      };
      socket.onmessage = (message) => {
        const frame = JSON.parse(message.data);
        if (frame.type === "connection_ack") {
          pause = 500;
          onStatus?.(true);
          socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { ...asked, variables } }));
        } else if (frame.type === "next" && frame.payload?.data) {
          onData(frame.payload.data);
        } else if (frame.type === "ping") {
          socket.send(JSON.stringify({ type: "pong" }));
        }
      };
      socket.onclose = () => {
        onStatus?.(false);
        if (!stopped) setTimeout(open, (pause = Math.min(pause * 2, 15000)));
      };
    };
    open();
    return () => {
      stopped = true;
      socket?.close();
    };
  }
}
