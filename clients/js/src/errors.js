// Error types the client rejects with. ServerError: the server answered with a failure (a function
// failed, a query failed, or an `error` frame); `code` is its errorCode / code. ClientError: the
// client itself gave up on a request (timeout, connection lost, closed); `code` says which.

export class ServerError extends Error {
    constructor(message, code, data) {
        super(message || code || "server error");
        this.name = "ServerError";
        this.code = code;
        if (data !== undefined) this.data = data;
    }
}

export class ClientError extends Error {
    constructor(message, code) {
        super(message);
        this.name = "ClientError";
        this.code = code;
    }
}
