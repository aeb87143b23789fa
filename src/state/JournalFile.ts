/**
 * Raw, durable I/O on `<dir>/journal.jsonl` (no Effect here: StateStore.ts
 * wraps each call, maps errors and serialises access).
 *
 * Why node:fs and not effect's FileSystem: durability needs fdatasync on the
 * journal after every append, fsync on the *directory* after the file is
 * created and after the compaction rename (else a crash can lose the directory
 * entry), ftruncate to cut a torn tail, and link(2) for the lock. FileSystem
 * offers `sync` on files but no directory sync and no datasync; node's
 * FileHandle maps each of these one-to-one onto the system call.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { isScanCorruption, type ScanCorruption, scanJournal, type ScanResult } from "./journalLine.js"

export const JOURNAL_FILE = "journal.jsonl"
const COMPACT_FILE = "journal.jsonl.compact"

/** fsync a directory so a file created, renamed or removed in it survives a crash. */
export const syncDir = async (dir: string): Promise<void> => {
  const handle = await fs.open(dir, "r")
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

export class JournalCorrupt extends Error {
  constructor(readonly corruption: ScanCorruption) {
    super(corruption.detail)
  }
}

export interface OpenedJournal {
  readonly journal: JournalFile
  readonly scan: ScanResult
  /** Bytes cut from a torn tail (0 when the file was clean). */
  readonly truncatedBytes: number
}

export class JournalFile {
  private unusable: unknown = undefined

  private constructor(
    readonly dir: string,
    readonly path: string,
    private handle: fs.FileHandle,
    /** Bytes in the file: every append returned after they were on disk. */
    public size: number
  ) {}

  /**
   * Reads and checks the journal, cuts a torn tail (durably), and opens it for
   * appending. Corruption before the tail throws JournalCorrupt.
   */
  static async open(dir: string): Promise<OpenedJournal> {
    const file = path.join(dir, JOURNAL_FILE)
    // A compaction that crashed before its rename left this; the journal is intact.
    await fs.rm(path.join(dir, COMPACT_FILE), { force: true })
    let content: Buffer
    let existed = true
    try {
      content = await fs.readFile(file)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e
      content = Buffer.alloc(0)
      existed = false
    }
    const scan = scanJournal(content)
    if (isScanCorruption(scan)) throw new JournalCorrupt(scan)
    const handle = await fs.open(file, "a")
    try {
      const truncatedBytes = content.length - scan.validBytes
      if (truncatedBytes > 0) {
        await handle.truncate(scan.validBytes)
        await handle.sync()
      }
      if (!existed) await syncDir(dir)
      return { journal: new JournalFile(dir, file, handle, scan.validBytes), scan, truncatedBytes }
    } catch (e) {
      await handle.close().catch(() => undefined)
      throw e
    }
  }

  /**
   * Appends and waits for fdatasync (which covers the file size too). On
   * failure the file may end in a partial line; the caller stops using this
   * journal, and the next open cuts that torn tail.
   */
  async append(data: Buffer): Promise<void> {
    if (this.unusable !== undefined) throw this.unusable
    try {
      let written = 0
      while (written < data.length) {
        const { bytesWritten } = await this.handle.write(data, written, data.length - written)
        written += bytesWritten
      }
      // After a failed fsync the kernel may have dropped the dirty pages, and
      // a later fsync can succeed without them: never write on after one.
      await this.handle.datasync()
    } catch (e) {
      this.unusable = e
      throw e
    }
    this.size += data.length
  }

  /** False once a failure left the file in a state appends must not build on. */
  get usable(): boolean {
    return this.unusable === undefined
  }

  /**
   * Replaces the whole journal atomically: write a temp file, fsync it, rename
   * it over the journal, fsync the directory, reopen for appending. Until the
   * rename the old journal is untouched; after it the new one is complete.
   */
  async rewrite(data: Buffer): Promise<void> {
    const temp = path.join(this.dir, COMPACT_FILE)
    const out = await fs.open(temp, "w")
    try {
      await out.writeFile(data)
      await out.sync()
    } finally {
      await out.close()
    }
    await fs.rename(temp, this.path)
    // From here the old handle points at the replaced file: a failure leaves
    // nothing safe to append to.
    try {
      const old = this.handle
      this.handle = await fs.open(this.path, "a")
      this.size = data.length
      await old.close().catch(() => undefined)
      await syncDir(this.dir)
    } catch (e) {
      this.unusable = e
      throw e
    }
  }

  async close(): Promise<void> {
    await this.handle.close()
  }
}
