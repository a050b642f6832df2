package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The host's signed statement of one program: which host settled it and when, the program, price table
 * and capsule, its budget, what was charged and exchanged, the final cost by part and the refund (which
 * together always add up to the budget), the transcript of every output sent, and how it ended (the
 * heads it committed, or the failure). Layout: docs/FORMAT.md, "Receipt"; every value this constructor
 * accepts has exactly one encoding, and {@link #parseBody} accepts nothing else.
 *
 * @param issuedAt when the host settled the program, whole milliseconds
 * @param capsuleIdOrNull the capsule the program names, or null when it names none
 * @param outputCount how many outputs the host sent: the leaves of the transcript
 * @param transcriptRoot the RFC 9162 root over the transcript entries of the outputs sent
 */
public record Receipt(
    PublicKey hostKey,
    Instant issuedAt,
    Hash programId,
    Hash priceTableId,
    @Nullable Hash capsuleIdOrNull,
    Amount budget,
    int instructionsCharged,
    long uploadBytes,
    long downloadBytes,
    CostBreakdown cost,
    Amount refund,
    int outputCount,
    Hash transcriptRoot,
    Receipt.End end) {

  static final int VERSION = 2;
  /** The body's length without heads and message: {@code 251 + 32 × heads + message bytes} in all. */
  public static final int FIXED_BODY_LENGTH = 251;
  /** The longest failure message, in UTF-8 bytes; a host truncates longer ones ({@link #truncateMessage}). */
  public static final int MAX_MESSAGE_BYTES = 1024;
  /** The most committed heads a receipt can carry (the count is a u16). */
  public static final int MAX_HEADS = 0xFFFF;
  /** {@link Failed#instruction()} of a failure that is not one instruction's. */
  public static final int NO_INSTRUCTION = -1;

  private static final int HEAD_COUNT_OFFSET = 247;
  private static final long NO_INSTRUCTION_U32 = 0xFFFF_FFFFL;

  /** How a program ended: {@link Completed} or {@link Failed}. */
  public sealed interface End permits Completed, Failed {}

  /**
   * The program completed. A read-write program that names a capsule lists the capsule's heads after
   * its commit, strictly ascending; every other program lists none.
   */
  public record Completed(List<Hash> committedHeads) implements End {
    /** A completed program that committed no heads. */
    public static final Completed NOTHING_COMMITTED = new Completed(List.of());

    public Completed {
      committedHeads = List.copyOf(committedHeads);
      if (committedHeads.size() > MAX_HEADS) {
        throw new IllegalArgumentException(committedHeads.size() + " heads, a receipt holds at most " + MAX_HEADS);
      }
      for (int i = 1; i < committedHeads.size(); i++) {
        if (committedHeads.get(i - 1).compareTo(committedHeads.get(i)) >= 0) {
          throw new IllegalArgumentException("committed heads are not strictly ascending at " + i);
        }
      }
    }
  }

  /**
   * The program failed.
   *
   * @param instruction the failing instruction's index, or {@link #NO_INSTRUCTION} for a failure outside
   *     any instruction (the commit, the stream)
   * @param reason the wire {@code FailureReason} number, 1 to 255
   * @param message well-formed text of at most {@link #MAX_MESSAGE_BYTES} UTF-8 bytes
   */
  public record Failed(int instruction, int reason, String message) implements End {
    public Failed {
      Objects.requireNonNull(message, "message");
      if (instruction < NO_INSTRUCTION) {
        throw new IllegalArgumentException("a failed instruction is an index or -1, got " + instruction);
      }
      if (reason < 1 || reason > 255) {
        throw new IllegalArgumentException("a failure reason is 1 to 255, got " + reason);
      }
      int length = utf8Length(message);
      if (length < 0) {
        throw new IllegalArgumentException("the failure message is not well-formed UTF-16 (a lone surrogate)");
      }
      if (length > MAX_MESSAGE_BYTES) {
        throw new IllegalArgumentException(
            "the failure message is " + length + " UTF-8 bytes, at most " + MAX_MESSAGE_BYTES);
      }
    }
  }

  public Receipt {
    Objects.requireNonNull(hostKey, "hostKey");
    Objects.requireNonNull(issuedAt, "issuedAt");
    Objects.requireNonNull(programId, "programId");
    Objects.requireNonNull(priceTableId, "priceTableId");
    Objects.requireNonNull(budget, "budget");
    Objects.requireNonNull(cost, "cost");
    Objects.requireNonNull(refund, "refund");
    Objects.requireNonNull(transcriptRoot, "transcriptRoot");
    Objects.requireNonNull(end, "end");
    Codec.wholeMillis("issuedAt", issuedAt);
    if (capsuleIdOrNull != null && Codec.isZero(capsuleIdOrNull)) {
      throw new IllegalArgumentException("a capsule id of 32 zero bytes would read as \"no capsule\"");
    }
    if (instructionsCharged < 0 || uploadBytes < 0 || downloadBytes < 0 || outputCount < 0) {
      throw new IllegalArgumentException("counts are never negative");
    }
    if (outputCount > instructionsCharged) {
      throw new IllegalArgumentException("outputCount " + outputCount + " exceeds instructionsCharged "
          + instructionsCharged + ": every output answers a charged instruction");
    }
    if (end instanceof Failed && !cost.storage().isZero()) {
      throw new IllegalArgumentException("a failed program's storage part is refunded, got " + cost.storage());
    }
    if (end instanceof Completed c && !c.committedHeads().isEmpty() && capsuleIdOrNull == null) {
      throw new IllegalArgumentException("committed heads of a program that names no capsule");
    }
    if (!cost.total().plus(refund).equals(budget)) {
      throw new IllegalArgumentException("cost " + cost.total().units() + " + refund " + refund.units()
          + " units is not the budget " + budget.units());
    }
  }

  /** Whether the program failed. */
  public boolean failed() {
    return end instanceof Failed;
  }

  /** The heads the program committed; empty for a failed program and for one that committed none. */
  public List<Hash> committedHeads() {
    return end instanceof Completed c ? c.committedHeads() : List.of();
  }

  /** The failing instruction's index; {@link #NO_INSTRUCTION} when completed or failed outside one. */
  public int failedInstruction() {
    return end instanceof Failed f ? f.instruction() : NO_INSTRUCTION;
  }

  /** The wire {@code FailureReason} number; 0 exactly when completed. */
  public int failureReason() {
    return end instanceof Failed f ? f.reason() : 0;
  }

  /** The failure message; empty when completed. */
  public String failureMessage() {
    return end instanceof Failed f ? f.message() : "";
  }

  /** What the program finally cost. */
  public Amount finalCost() {
    return cost.total();
  }

  /**
   * The longest prefix of {@code message} that a receipt carries: at most {@link #MAX_MESSAGE_BYTES}
   * UTF-8 bytes, cut at a character boundary, with any lone surrogate replaced by U+FFFD. The host sends
   * the renter this same text, so the two can be compared.
   */
  public static String truncateMessage(String message) {
    Objects.requireNonNull(message, "message");
    StringBuilder out = new StringBuilder(Math.min(message.length(), MAX_MESSAGE_BYTES));
    int bytes = 0;
    for (int i = 0; i < message.length(); ) {
      int codePoint = message.codePointAt(i);
      i += Character.charCount(codePoint);
      if (Character.isBmpCodePoint(codePoint) && Character.isSurrogate((char) codePoint)) {
        codePoint = 0xFFFD;
      }
      bytes += utf8Length(codePoint);
      if (bytes > MAX_MESSAGE_BYTES) {
        break;
      }
      out.appendCodePoint(codePoint);
    }
    return out.toString();
  }

  /** The canonical body: the bytes the host signs. */
  public byte[] body() {
    List<Hash> heads = committedHeads();
    byte[] message = failureMessage().getBytes(StandardCharsets.UTF_8);
    ByteBuffer out = ByteBuffer.allocate(FIXED_BODY_LENGTH + Hash.LENGTH * heads.size() + message.length);
    out.put((byte) VERSION);
    Codec.putKey(out, hostKey);
    Codec.putMillis(out, issuedAt);
    Codec.putHash(out, programId);
    Codec.putHash(out, priceTableId);
    Codec.putHashOrZero(out, capsuleIdOrNull);
    Codec.putAmount(out, budget);
    out.put((byte) (failed() ? 1 : 0));
    out.putInt(instructionsCharged);
    out.putLong(uploadBytes);
    out.putLong(downloadBytes);
    Codec.putAmount(out, cost.instruction());
    Codec.putAmount(out, cost.bandwidth());
    Codec.putAmount(out, cost.memory());
    Codec.putAmount(out, cost.storage());
    Codec.putAmount(out, refund);
    out.putInt(outputCount);
    Codec.putHash(out, transcriptRoot);
    out.putInt(failedInstruction()); // -1 is 0xFFFFFFFF
    out.put((byte) failureReason());
    out.putShort((short) heads.size());
    for (Hash head : heads) {
      Codec.putHash(out, head);
    }
    out.putShort((short) message.length);
    out.put(message);
    return out.array();
  }

  /**
   * This receipt signed with the host's key, which must be {@link #hostKey()}. The signature is made when
   * first needed ({@link SignedReceipt}), so a receipt that is sealed instead ({@link #seal}) costs none.
   */
  public SignedReceipt sign(SigningKey hostSigningKey) {
    if (!hostSigningKey.publicKey().equals(hostKey)) {
      throw new IllegalArgumentException("the receipt names host " + hostKey + ", not the signer");
    }
    return SignedReceipt.deferred(this, hostSigningKey);
  }

  /** This receipt sealed with the key of the payment session that paid for its program. */
  public SealedReceipt seal(SessionKey sessionKey) {
    byte[] body = body();
    return new SealedReceipt(this, body, sessionKey.mac(Domain.RECEIPT_SEAL_MAC, body));
  }

  /** Refuses {@code receipt} unless it names {@code hostKey} as its host. */
  static void requireHost(Receipt receipt, PublicKey hostKey) throws PricingException {
    if (!receipt.hostKey().equals(hostKey)) {
      throw new PricingException(PricingException.Reason.WRONG_HOST,
          "receipt for program " + receipt.programId() + " names host " + receipt.hostKey() + ", not " + hostKey);
    }
  }

  /**
   * The length of the body that starts {@code encoding} (a body, or a body then more bytes), read from
   * its head count and message length.
   */
  static int bodyLength(byte[] encoding) throws VerificationException {
    if (encoding.length < HEAD_COUNT_OFFSET + 2) {
      throw Codec.malformed("receipt of " + encoding.length + " bytes ends before its head count");
    }
    int heads = (encoding[HEAD_COUNT_OFFSET] & 0xff) << 8 | (encoding[HEAD_COUNT_OFFSET + 1] & 0xff);
    int messageAt = HEAD_COUNT_OFFSET + 2 + Hash.LENGTH * heads;
    if (encoding.length < messageAt + 2) {
      throw Codec.malformed("receipt of " + encoding.length + " bytes ends before its message length");
    }
    int message = (encoding[messageAt] & 0xff) << 8 | (encoding[messageAt + 1] & 0xff);
    return messageAt + 2 + message;
  }

  /** Parses exactly one canonical body, enforcing every rule of docs/FORMAT.md, "Receipt". */
  public static Receipt parseBody(byte[] body) throws VerificationException {
    Objects.requireNonNull(body, "body");
    Codec.Reader in = new Codec.Reader(body, "receipt body");
    in.version(VERSION);
    PublicKey hostKey = in.key("hostKey");
    Instant issuedAt = in.millis("issuedAt");
    Hash programId = in.hash("programId");
    Hash tableId = in.hash("priceTableId");
    Hash capsuleId = in.hashOrNull("capsuleId");
    Amount budget = in.amount("budget");
    int status = in.u8("status");
    if (status > 1) {
      throw Codec.malformed("receipt status " + status + " is neither 0 (completed) nor 1 (failed)");
    }
    boolean failed = status == 1;
    int count = in.nonNegativeInt("instructionsCharged");
    long up = in.nonNegativeLong("uploadBytes");
    long down = in.nonNegativeLong("downloadBytes");
    CostBreakdown cost = new CostBreakdown(in.amount("cost.instruction"), in.amount("cost.bandwidth"),
        in.amount("cost.memory"), in.amount("cost.storage"));
    Amount refund = in.amount("refund");
    int outputCount = in.nonNegativeInt("outputCount");
    Hash transcriptRoot = in.hash("transcriptRoot");
    long failedInstruction = in.u32("failedInstruction");
    if (failedInstruction > Integer.MAX_VALUE && failedInstruction != NO_INSTRUCTION_U32) {
      throw Codec.malformed("receipt failedInstruction " + failedInstruction + " is neither below 2^31 nor none");
    }
    int reason = in.u8("failureReason");
    int headCount = in.u16("headCount");
    List<Hash> heads = new ArrayList<>(headCount);
    for (int i = 0; i < headCount; i++) {
      heads.add(in.hash("head " + i));
    }
    int messageLength = in.u16("message length");
    if (messageLength > MAX_MESSAGE_BYTES) {
      throw Codec.malformed("receipt message is " + messageLength + " bytes, at most " + MAX_MESSAGE_BYTES);
    }
    String message = strictUtf8(in.bytes(messageLength, "message"));
    in.finish();
    End end;
    if (failed) {
      if (reason == 0) {
        throw Codec.malformed("a failed receipt has failure reason 0");
      }
      if (headCount != 0) {
        throw Codec.malformed("a failed receipt lists " + headCount + " committed heads");
      }
      end = new Failed((int) failedInstruction, reason, message);
    } else {
      if (reason != 0 || failedInstruction != NO_INSTRUCTION_U32 || messageLength != 0) {
        throw Codec.malformed("a completed receipt has a failure reason, instruction or message");
      }
      if (capsuleId == null && headCount != 0) {
        throw Codec.malformed("a receipt that names no capsule lists " + headCount + " committed heads");
      }
      try {
        end = new Completed(heads);
      } catch (IllegalArgumentException e) {
        throw Codec.malformed("receipt body: " + e.getMessage());
      }
    }
    try {
      return new Receipt(hostKey, issuedAt, programId, tableId, capsuleId, budget, count, up, down, cost, refund,
          outputCount, transcriptRoot, end);
    } catch (IllegalArgumentException | ArithmeticException e) {
      throw Codec.malformed("receipt body: " + e.getMessage());
    }
  }

  private static String strictUtf8(byte[] bytes) throws VerificationException {
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      throw Codec.malformed("receipt message is not valid UTF-8");
    }
  }

  /** The UTF-8 length of {@code text}, or -1 when it holds a lone surrogate (which has no encoding). */
  private static int utf8Length(String text) {
    int bytes = 0;
    for (int i = 0; i < text.length(); ) {
      int codePoint = text.codePointAt(i);
      if (Character.isBmpCodePoint(codePoint) && Character.isSurrogate((char) codePoint)) {
        return -1;
      }
      i += Character.charCount(codePoint);
      bytes += utf8Length(codePoint);
    }
    return bytes;
  }

  private static int utf8Length(int codePoint) {
    if (codePoint < 0x80) {
      return 1;
    }
    if (codePoint < 0x800) {
      return 2;
    }
    return codePoint < 0x10000 ? 3 : 4;
  }
}
