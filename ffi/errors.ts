/** A link could not be opened or used: code is the errno name (ENODEV, EPERM, ...). */
export class RawLinkError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "RawLinkError";
  }
}
