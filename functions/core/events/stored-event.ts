/** An event as stored: its position in export order and its canonical JSON bytes. */
export interface StoredEvent {
  /** `<sortable instant>#<id>`; strictly increasing along a stream. */
  readonly sortKey: string;
  /** canonicalEventJson(event) */
  readonly json: string;
}
