// A string's UTF-16 code units copied into a reusable typed array, for the tokenizer's
// character-by-character loops: reading a Uint16Array is several times faster than charCodeAt(),
// which checks the string's kind (one- or two-byte, flat or not) at every call, and the copy is one
// native call. The buffer grows to the longest text copied and is kept (2 bytes a character: 1 MiB
// for the tokenizer's 512 Ki characters at most; the tokenizer keeps two, the text as written and
// folded, so 2 MiB at most).
import { endianness } from 'node:os';

/** Characters a new buffer holds: 4 Ki. */
const INITIAL_CHARS = 4096;
/** Buffer.write(…, 'utf16le') lays code units out as a Uint16Array reads them only on a little-endian machine. */
const NATIVE_UTF16LE = endianness() === 'LE';

export class CodeUnitBuffer {
  private bytes = Buffer.allocUnsafeSlow(INITIAL_CHARS * 2);
  private units = new Uint16Array(this.bytes.buffer, this.bytes.byteOffset, INITIAL_CHARS);

  /** The code units of `text`, at indices 0 to text.length − 1 of the array returned (which may be longer); valid until the next call. */
  fill(text: string): Uint16Array {
    if (text.length > this.units.length) {
      this.bytes = Buffer.allocUnsafeSlow(text.length * 2);
      this.units = new Uint16Array(this.bytes.buffer, this.bytes.byteOffset, text.length);
    }
    if (NATIVE_UTF16LE) this.bytes.write(text, 0, 'utf16le');
    else for (let i = 0; i < text.length; i++) this.units[i] = text.charCodeAt(i);
    return this.units;
  }
}
