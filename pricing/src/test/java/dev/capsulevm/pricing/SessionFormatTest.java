package dev.capsulevm.pricing;

import static dev.capsulevm.pricing.FormatDocument.field;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.VerificationException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The payment session objects of docs/FORMAT.md ("Payment sessions"): the worked example's byte table and
 * every {@code vector session.*} line are recomputed here from fixed keys, and every byte of each object
 * is flipped to show the check that catches it. Run {@link #main} to print them afresh.
 */
class SessionFormatTest {
  private static final HexFormat HEX = HexFormat.of();
  private static final byte[] PROGRAM = "program".getBytes(StandardCharsets.US_ASCII);
  private static final Clock IN_WINDOW = Clock.fixed(Fixtures.VALID_FROM.plusSeconds(60), ZoneOffset.UTC);

  private static final ExchangeKeyPair RENTER_EXCHANGE = ExchangeKeyPair.fromScalar(filled(0x0c));
  private static final ExchangeKeyPair HOST_EXCHANGE = ExchangeKeyPair.fromScalar(filled(0x0d));

  private static byte[] filled(int fill) {
    byte[] bytes = new byte[32];
    Arrays.fill(bytes, (byte) fill);
    return bytes;
  }

  static SignedSessionRequest request() {
    return new SessionRequest(Fixtures.RENTER.publicKey(), Amount.of(1_000_000), 7,
        Fixtures.VALID_FROM.plusSeconds(600), Fixtures.exampleTable().id(), Fixtures.HOST.publicKey(),
        RENTER_EXCHANGE.publicKey()).sign(Fixtures.RENTER);
  }

  static SignedSessionGrant grant() {
    return new SessionGrant(request().sessionId(), HOST_EXCHANGE.publicKey()).sign(Fixtures.HOST);
  }

  static SessionKey renterKey() throws VerificationException {
    return SessionKey.forRenter(RENTER_EXCHANGE, request(), grant().grant());
  }

  static Ticket ticket() throws VerificationException {
    return Ticket.issue(renterKey(), request().sessionId(), 1, Amount.of(70_000), PROGRAM);
  }

  static Map<String, String> vectors() throws VerificationException {
    Map<String, String> v = new LinkedHashMap<>();
    v.put("session.exchange-key(renter)", RENTER_EXCHANGE.publicKey().toString());
    v.put("session.exchange-key(host)", HOST_EXCHANGE.publicKey().toString());
    v.put("session.request", HEX.formatHex(request().encode()));
    v.put("session.id", request().sessionId().toHex());
    v.put("session.grant", HEX.formatHex(grant().encode()));
    v.put("session.shared-secret", HEX.formatHex(RENTER_EXCHANGE.agree(HOST_EXCHANGE.publicKey())));
    v.put("session.key", HEX.formatHex(renterKey().bytes()));
    v.put("session.program-digest", Sha256.untagged(PROGRAM).toHex());
    v.put("session.ticket", HEX.formatHex(ticket().encode()));
    byte[] programAndTicket = Arrays.copyOf(PROGRAM, PROGRAM.length + Ticket.LENGTH);
    System.arraycopy(ticket().encode(), 0, programAndTicket, PROGRAM.length, Ticket.LENGTH);
    v.put("session.program-id", Sha256.hash(Domain.PROGRAM_ID, programAndTicket).toHex());
    v.put("session.close-mac", HEX.formatHex(renterKey().closeMac(request().sessionId())));
    byte[] sealed = sealedReceipt().encode();
    v.put("session.receipt-seal", HEX.formatHex(sealed, sealed.length - SealedReceipt.SEAL_LENGTH, sealed.length));
    v.put("session.sealed-receipt", HEX.formatHex(sealed));
    return v;
  }

  /**
   * Receipt example 1 ("Receipt"), its body as the document gives it, sealed with the example's session
   * key: a stand-in, as that program was paid by a withdrawal, but every byte of the seal is the same rule.
   */
  static SealedReceipt sealedReceipt() throws VerificationException {
    return receiptExample1().seal(renterKey());
  }

  /** Receipt example 1's whole encoding, the first code block after "Whole encoding:" in the document. */
  private static byte[] signedReceiptExample1() {
    String text = FormatDocument.text();
    int start = text.indexOf("```\n", text.indexOf("Whole encoding:", text.indexOf("**Example 1, completed.**"))) + 4;
    return HEX.parseHex(text.substring(start, text.indexOf("```", start)).replace("\n", ""));
  }

  private static Receipt receiptExample1() throws VerificationException {
    return SignedReceipt.parse(signedReceiptExample1()).receipt();
  }

  static String requestRows() {
    return FormatDocument.rows(request().encode(), List.of(
        field(1, "version = 1"),
        field(32, "account (Ed25519 public key)"),
        field(8, "amount"),
        field(8, "nonce (opaque 64 bits)"),
        field(8, "expiry, seconds since 1970 (exclusive)"),
        field(32, "priceTableId"),
        field(32, "hostKey"),
        field(32, "renter's exchange key (X25519 public key)"),
        field(64, "signature: Ed25519 by account over 0x38 ‖ bytes 0..152")));
  }

  static String grantRows() {
    return FormatDocument.rows(grant().encode(), List.of(
        field(1, "version = 1"),
        field(32, "sessionId"),
        field(32, "host's exchange key (X25519 public key)"),
        field(64, "signature: Ed25519 by the host over 0x3a ‖ bytes 0..64")));
  }

  static String ticketRows() throws VerificationException {
    return FormatDocument.rows(ticket().encode(), List.of(
        field(1, "version = 1"),
        field(32, "sessionId"),
        field(8, "counter"),
        field(8, "budget"),
        field(32, "mac: HMAC-SHA256(session key, 0x3b ‖ bytes 0..48 ‖ SHA-256(program encoding))")));
  }

  @Test
  void theWorkedExampleIsTheDocumentedOne() throws VerificationException {
    Map<String, String> documented = FormatDocument.vectors();
    vectors().forEach((name, value) -> assertEquals(value, documented.get(name), name));
    FormatDocument.assertContains("session request rows", requestRows());
    FormatDocument.assertContains("session grant rows", grantRows());
    FormatDocument.assertContains("ticket rows", ticketRows());
    assertEquals(0x38, Domain.SESSION_REQUEST_SIGNATURE.tag());
    assertEquals(0x39, Domain.SESSION_ID.tag());
    assertEquals(0x3a, Domain.SESSION_GRANT_SIGNATURE.tag());
    assertEquals(0x3b, Domain.TICKET_MAC.tag());
    assertEquals(0x3c, Domain.SESSION_CLOSE_MAC.tag());
    assertEquals(0x3d, Domain.RECEIPT_SEAL_MAC.tag());
  }

  @Test
  void aSealedReceiptOpensWithItsSessionKeyOnly_andAnyByteChangedIsCaught() throws Exception {
    SessionKey host = SessionKey.forHost(HOST_EXCHANGE, request());
    byte[] encoded = sealedReceipt().encode();
    Receipt receipt = receiptExample1();
    assertEquals(receipt, SealedReceipt.parse(encoded).open(host, Fixtures.HOST.publicKey()));
    assertEquals(receipt, SignedReceipt.parse(signedReceiptExample1()).verify(Fixtures.HOST.publicKey()),
        "the example's signature verifies");
    SessionKey other = SessionKey.forHost(ExchangeKeyPair.generate(), request());
    PricingException wrongKey = assertThrows(PricingException.class,
        () -> SealedReceipt.parse(encoded).open(other, Fixtures.HOST.publicKey()));
    assertEquals(PricingException.Reason.BAD_SIGNATURE, wrongKey.reason());
    assertEquals(PricingException.Reason.WRONG_HOST, assertThrows(PricingException.class,
        () -> SealedReceipt.parse(encoded).open(host, Fixtures.OTHER.publicKey())).reason());
    for (int i = 0; i < encoded.length; i++) {
      byte[] flipped = encoded.clone();
      flipped[i] ^= 1;
      int at = i;
      assertThrows(Exception.class, () -> SealedReceipt.parse(flipped).open(host, Fixtures.HOST.publicKey()),
          () -> "byte " + at + " of the sealed receipt");
    }
    assertThrows(VerificationException.class, () -> SealedReceipt.parse(Arrays.copyOf(encoded, encoded.length - 1)));
    assertThrows(VerificationException.class, () -> SealedReceipt.parse(Arrays.copyOf(encoded, encoded.length + 1)));
  }

  @Test
  void bothSidesDeriveTheSameKey() throws VerificationException {
    SessionKey host = SessionKey.forHost(HOST_EXCHANGE, request());
    assertTrue(ticket().authentic(host, PROGRAM));
    assertTrue(host.closes(renterKey().closeMac(request().sessionId()), request().sessionId()));
    SessionKey fresh = SessionKey.forHost(ExchangeKeyPair.generate(), request());
    assertFalse(ticket().authentic(fresh, PROGRAM), "another host key pair derives another key");
  }

  @Test
  void aTicketPaysForItsProgramOnly() throws VerificationException {
    SessionKey host = SessionKey.forHost(HOST_EXCHANGE, request());
    assertFalse(ticket().authentic(host, "programs".getBytes(StandardCharsets.US_ASCII)));
    Ticket parsed = Ticket.parse(ticket().encode());
    assertTrue(parsed.authentic(host, PROGRAM));
    assertEquals(1, parsed.counter());
    assertEquals(70_000, parsed.budget().units());
    assertEquals(request().sessionId(), parsed.sessionId());
  }

  @Test
  void everyByteOfARequestIsChecked() throws PricingException {
    Hash table = Fixtures.exampleTable().id();
    Tamper.everyByteBreaks(request().encode(),
        bytes -> SignedSessionRequest.parse(bytes).verify(Fixtures.HOST.publicKey(), table, IN_WINDOW));
    SignedSessionRequest good = request();
    assertEquals(good.request(), good.verify(Fixtures.HOST.publicKey(), table, IN_WINDOW));
    assertThrows(PricingException.class, () -> good.verify(Fixtures.OTHER.publicKey(), table, IN_WINDOW));
    Clock late = Clock.fixed(Fixtures.VALID_FROM.plusSeconds(600), ZoneOffset.UTC);
    assertThrows(PricingException.class, () -> good.verify(Fixtures.HOST.publicKey(), table, late));
  }

  @Test
  void everyByteOfAGrantIsChecked() {
    Hash id = request().sessionId();
    Tamper.everyByteBreaks(grant().encode(),
        bytes -> SignedSessionGrant.parse(bytes).verify(Fixtures.HOST.publicKey(), id));
    assertThrows(VerificationException.class, () -> grant().verify(Fixtures.OTHER.publicKey(), id));
  }

  @Test
  void everyByteOfATicketIsChecked() throws VerificationException {
    SessionKey host = SessionKey.forHost(HOST_EXCHANGE, request());
    Tamper.everyByteBreaks(ticket().encode(), bytes -> {
      if (!Ticket.parse(bytes).authentic(host, PROGRAM)) {
        throw new VerificationException(VerificationException.Failure.BAD_SIGNATURE, "not authentic");
      }
    });
  }

  @Test
  void aSmallOrderExchangeKeyIsRefused() {
    SignedSessionRequest zero = new SessionRequest(Fixtures.RENTER.publicKey(), Amount.of(1), 1,
        Fixtures.VALID_FROM.plusSeconds(600), Fixtures.exampleTable().id(), Fixtures.HOST.publicKey(),
        ExchangeKey.copyOf(new byte[32])).sign(Fixtures.RENTER);
    assertThrows(VerificationException.class, () -> SessionKey.forHost(HOST_EXCHANGE, zero));
  }

  @Test
  void parsersRefuseOtherLengths() throws VerificationException {
    assertThrows(VerificationException.class, () -> SignedSessionRequest.parse(new byte[SignedSessionRequest.LENGTH - 1]));
    assertThrows(VerificationException.class, () -> SignedSessionGrant.parse(new byte[SignedSessionGrant.LENGTH + 1]));
    assertThrows(VerificationException.class, () -> Ticket.parse(new byte[Ticket.LENGTH + 1]));
    byte[] top = request().encode();
    assertArrayEquals(top, SignedSessionRequest.parse(top).encode());
  }

  public static void main(String[] args) throws VerificationException {
    System.out.println(FormatDocument.vectorLines(vectors()));
    System.out.println(requestRows());
    System.out.println(grantRows());
    System.out.println(ticketRows());
  }
}
