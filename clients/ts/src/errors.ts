// Why a call of the client failed.

import { errorName } from "./frames.js";

/** The hub refused or ended something, with one of the codes of spec §5. */
export class HubError extends Error {
  /** The code's name: `AuthFailed`, `AccessDenied`, `ReadOnly`, … */
  readonly codeName: string;

  constructor(
    /** The code (spec/wire-format.md §5). */
    readonly code: number,
    /** The hub's reason, or the client's own words when the hub gave none. */
    readonly reason: string,
  ) {
    super(reason ? `${errorName(code)}: ${reason}` : errorName(code));
    this.name = "HubError";
    this.codeName = errorName(code);
  }
}

/** The hub refused a write (rights, a read-only variable, a bad value); nothing of it was applied. */
export class WriteError extends HubError {
  constructor(code: number, reason: string) {
    super(code, reason);
    this.name = "WriteError";
  }
}

/** The connection ended before an answer came: a write may or may not have been applied. */
export class ConnectionLost extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConnectionLost";
  }
}
