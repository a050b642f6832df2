package dev.capsulevm.host.server;

import com.google.protobuf.ByteString;
import dev.capsulevm.pricing.ExchangeKeyPair;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.pricing.Reservations;
import dev.capsulevm.pricing.SessionGrant;
import dev.capsulevm.pricing.SessionHold;
import dev.capsulevm.pricing.SessionKey;
import dev.capsulevm.pricing.SessionRequest;
import dev.capsulevm.pricing.SignedSessionGrant;
import dev.capsulevm.pricing.SignedSessionRequest;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.CloseSessionResponse;
import io.grpc.Status;
import io.grpc.StatusException;
import java.time.Clock;
import java.time.Instant;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host's open payment sessions (docs/PROTOCOL.md, "Payment sessions"), by session id: each holds part
 * of an account's balance ({@link SessionHold}) and the session key its tickets are authenticated with.
 * Kept in memory only, like the holds: a host that restarts has forgotten them, their remainders are the
 * accounts' again, and only the programs that settled were charged.
 *
 * <p>Bounded: at most {@link HostConfig.SessionLimits#maxPerAccount()} open per account and
 * {@link HostConfig.SessionLimits#maxOpen()} in all; a session past its expiry, or with no ticket
 * authenticated for {@link HostConfig.SessionLimits#idleTimeout()}, is closed by {@link #sweep()} (which the
 * host runs every second) or when a ticket or a close names it, whichever comes first.
 *
 * <p>Thread-safe. Look-ups ({@link #find}) take no lock; opening and ending take this object's monitor,
 * under which the holds' lock may be taken, never the reverse.
 */
final class Sessions {
  private static final Logger log = LoggerFactory.getLogger(Sessions.class);

  private final HostConfig.SessionLimits limits;
  private final Clock clock;
  private final SigningKey hostKey;
  private final PriceTables tables;
  private final Reservations reservations;
  private final BooleanSupplier closing;
  private final Map<Hash, Session> byId = new ConcurrentHashMap<>();
  /**
   * Guarded by this: the sessions that ended, until their requests expire, so a signed request cannot open
   * a session twice. A session none of whose programs settled gives its nonce back to the holds, so without
   * this a request seen on a plaintext port could be replayed to hold the renter's amount again (it could
   * not be spent: the session key needs the renter's exchange secret).
   */
  private final Map<Hash, Instant> ended = new HashMap<>();
  /** Guarded by this: open sessions per account, kept with {@link #byId}. */
  private final Map<PublicKey, Integer> perAccount = new HashMap<>();
  private final AtomicLong opened = new AtomicLong();
  private final AtomicLong programsPaid = new AtomicLong();

  Sessions(HostConfig.SessionLimits limits, Clock clock, SigningKey hostKey, PriceTables tables,
      Reservations reservations, BooleanSupplier closing) {
    this.limits = limits;
    this.clock = clock;
    this.hostKey = hostKey;
    this.tables = tables;
    this.reservations = reservations;
    this.closing = closing;
  }

  /** One open session: what its tickets are checked against. */
  static final class Session {
    private final Hash id;
    private final SessionRequest request;
    private final SessionKey key;
    private final SessionHold hold;
    private final CounterWindow counters = new CounterWindow();
    private volatile Instant lastUse;

    private Session(Hash id, SessionRequest request, SessionKey key, SessionHold hold, Instant now) {
      this.id = id;
      this.request = request;
      this.key = key;
      this.hold = hold;
      this.lastUse = now;
    }

    Hash id() {
      return id;
    }

    PublicKey account() {
      return request.account();
    }

    /** The price table every program of the session runs under. */
    Hash priceTableId() {
      return request.priceTableId();
    }

    Instant expiry() {
      return request.expiry();
    }

    SessionKey key() {
      return key;
    }

    SessionHold hold() {
      return hold;
    }

    /**
     * Spends ticket {@code counter} (its MAC already authentic) and counts the session as used now;
     * {@link CounterWindow.Use#FRESH} if it was not spent before.
     */
    CounterWindow.Use spend(long counter, Instant now) {
      lastUse = now;
      return counters.use(counter);
    }

    /** The highest counter spent, -1 before any. */
    long highestCounter() {
      return counters.highest();
    }

    private boolean stale(Instant now, HostConfig.SessionLimits limits) {
      return hold.isClosed() || !now.isBefore(request.expiry())
          || !now.isBefore(lastUse.plus(limits.idleTimeout()));
    }

    @Override
    public String toString() {
      return "session " + id;
    }
  }

  /**
   * Which ticket counters of a session were spent, so that each is accepted at most once, in bounded
   * memory: the highest counter spent and a bitmap of the {@link #SIZE} counters up to it. A counter above
   * the highest is fresh (the window slides up to it); one in the window is fresh once; one {@link #SIZE} or
   * more below the highest is refused as if spent, though it may not have been. A renter numbering its
   * tickets upwards, with fewer than {@link #SIZE} of them in flight at once, never sees that.
   */
  static final class CounterWindow {
    /** Counters remembered below the highest, the highest included. */
    static final int SIZE = 1024;

    enum Use { FRESH, SPENT, TOO_OLD }

    private final long[] bits = new long[SIZE / Long.SIZE];
    private long highest = -1;

    /** Spends {@code counter} (never negative) if it is fresh. */
    synchronized Use use(long counter) {
      if (counter < 0) {
        throw new IllegalArgumentException("a ticket's counter is never negative, got " + counter);
      }
      if (counter > highest) {
        if (highest < 0 || counter - highest >= SIZE) {
          Arrays.fill(bits, 0);
        } else {
          for (long c = highest + 1; c < counter; c++) {
            clear(c); // counters skipped over are fresh; their slots held counters that left the window
          }
        }
        highest = counter;
        set(counter);
        return Use.FRESH;
      }
      if (highest - counter >= SIZE) {
        return Use.TOO_OLD;
      }
      int slot = (int) (counter % SIZE);
      if ((bits[slot / Long.SIZE] & (1L << (slot % Long.SIZE))) != 0) {
        return Use.SPENT;
      }
      set(counter);
      return Use.FRESH;
    }

    synchronized long highest() {
      return highest;
    }

    private void set(long counter) {
      int slot = (int) (counter % SIZE);
      bits[slot / Long.SIZE] |= 1L << (slot % Long.SIZE);
    }

    private void clear(long counter) {
      int slot = (int) (counter % SIZE);
      bits[slot / Long.SIZE] &= ~(1L << (slot % Long.SIZE));
    }
  }

  /**
   * OpenSession: checks the signed request (its encoding, its price table acceptable now, then host,
   * expiry and signature), the bounds, then holds its amount ({@link Reservations#openSession}: nonce,
   * balance), derives the session key with a fresh exchange key pair, and answers the signed grant.
   *
   * @throws StatusException naming what was wrong; nothing is held then
   */
  SignedSessionGrant open(ByteString signedRequest) throws StatusException {
    if (closing.getAsBoolean()) {
      throw status(Status.UNAVAILABLE, "the host is shutting down");
    }
    SignedSessionRequest signed;
    try {
      signed = SignedSessionRequest.parse(signedRequest.toByteArray());
    } catch (VerificationException e) {
      throw status(EndReason.MALFORMED_HEADER, "signed_session_request: " + e.getMessage());
    }
    SessionRequest request = signed.request();
    StringBuilder why = new StringBuilder();
    if (tables.acceptable(request.priceTableId(), why) == null) {
      throw status(EndReason.PRICE_TABLE_UNACCEPTABLE, "signed_session_request: " + why);
    }
    // Before the signature is verified, so a flood from one account costs the host little.
    checkBounds(request.account());
    try {
      signed.verify(hostKey.publicKey(), request.priceTableId(), clock);
    } catch (PricingException e) {
      throw status(EndReason.of(e.reason()), "signed_session_request: " + e.getMessage());
    }
    ExchangeKeyPair mine = ExchangeKeyPair.generate();
    SessionKey key;
    try {
      key = SessionKey.forHost(mine, signed);
    } catch (VerificationException e) {
      throw status(EndReason.MALFORMED_HEADER, "signed_session_request: exchangeKey: " + e.getMessage());
    }
    Hash id = signed.sessionId();
    synchronized (this) {
      checkBounds(request.account());
      if (ended.containsKey(id)) { // an open one's nonce is held: the holds refuse it below
        throw status(EndReason.PAYMENT_REPLAYED, "signed_session_request: session " + id
            + " was opened before and has ended; a signed request opens one session (sign a new one)");
      }
      SessionHold hold;
      try {
        hold = reservations.openSession(request.account(), request.amount(), request.nonce(), request.expiry());
      } catch (PricingException e) {
        throw status(EndReason.of(e.reason()), "signed_session_request: " + e.getMessage());
      }
      byId.put(id, new Session(id, request, key, hold, clock.instant()));
      perAccount.merge(request.account(), 1, Integer::sum);
    }
    opened.incrementAndGet();
    log.debug("opened session {} of {}: {} units until {}", id, request.account(), request.amount().units(),
        request.expiry());
    return new SessionGrant(id, mine.publicKey()).sign(hostKey);
  }

  private synchronized void checkBounds(PublicKey account) throws StatusException {
    int mine = perAccount.getOrDefault(account, 0);
    if (mine >= limits.maxPerAccount()) {
      throw status(Status.RESOURCE_EXHAUSTED, "signed_session_request: account " + account + " has " + mine
          + " payment sessions open, the host's sessions.maxPerAccount; close one (CloseSession) first");
    }
    if (byId.size() >= limits.maxOpen()) {
      throw status(Status.RESOURCE_EXHAUSTED, "the host has " + byId.size()
          + " payment sessions open, its sessions.maxOpen; retry later");
    }
  }

  /**
   * The open session {@code id}, or null when it is not open: never opened here, closed, or stale (past its
   * expiry or idle too long), which this closes.
   */
  @Nullable Session find(Hash id) {
    Session session = byId.get(id);
    if (session == null) {
      return null;
    }
    if (session.stale(clock.instant(), limits)) {
      end(session);
      return null;
    }
    return session;
  }

  /**
   * CloseSession: the session's close MAC checked, the session ends ({@link SessionHold#close()}) and the
   * answer gives its programs settled, their charge and the remainder released. Programs of the session
   * still in flight run on; each gives its unspent budget back to the account as it ends.
   *
   * @throws StatusException INVALID_ARGUMENT for a malformed id, NOT_FOUND for a session not open,
   *     PERMISSION_DENIED for a MAC that is not the session key's
   */
  CloseSessionResponse close(ByteString sessionId, ByteString mac) throws StatusException {
    if (sessionId.size() != Hash.LENGTH) {
      throw status(Status.INVALID_ARGUMENT, "session_id is " + sessionId.size() + " bytes, a session id is "
          + Hash.LENGTH);
    }
    Hash id = Hash.copyOf(sessionId.toByteArray());
    Session session = find(id);
    if (session == null) {
      throw status(Status.NOT_FOUND, notOpen(id));
    }
    if (!session.key().closes(mac.toByteArray(), id)) {
      throw status(Status.PERMISSION_DENIED, "mac: not the session key's MAC of session " + id
          + " (HMAC-SHA256 of 0x3c || session id); the session stays open");
    }
    end(session);
    SessionHold hold = session.hold();
    return CloseSessionResponse.newBuilder().setPrograms(hold.programs()).setCharged(hold.charged().units())
        .setReleased(hold.remaining().units()).build();
  }

  /** What a ticket or a close naming a session that is not open is told. */
  static String notOpen(Hash id) {
    return "session " + id + " is not open at this host (closed, expired, or forgotten in a restart); open a new one";
  }

  /** Closes every session past its expiry or idle too long; the host runs it every second. */
  void sweep() {
    Instant now = clock.instant();
    int closed = 0;
    for (Session session : byId.values()) {
      if (session.stale(now, limits)) {
        end(session);
        closed++;
      }
    }
    synchronized (this) {
      ended.values().removeIf(expiry -> !now.isBefore(expiry)); // an expired request is refused anyway
    }
    if (closed > 0) {
      log.debug("closed {} expired or idle payment sessions", closed);
    }
  }

  /** Closes every session (host shutdown): nothing is written, the remainders are the accounts' again. */
  void closeAll() {
    List.copyOf(byId.values()).forEach(this::end);
  }

  private void end(Session session) {
    synchronized (this) {
      if (byId.remove(session.id(), session)) {
        perAccount.computeIfPresent(session.account(), (account, n) -> n == 1 ? null : n - 1);
        ended.put(session.id(), session.expiry());
      }
    }
    session.hold().close();
  }

  /** A program paid by a ticket was admitted. */
  void paid() {
    programsPaid.incrementAndGet();
  }

  /** Sessions open now. */
  int open() {
    return byId.size();
  }

  /** Sessions opened since the host started. */
  long opened() {
    return opened.get();
  }

  /** Programs admitted on tickets since the host started. */
  long programsPaid() {
    return programsPaid.get();
  }

  private static StatusException status(EndReason reason, String message) {
    return reason.status(message).asException();
  }

  private static StatusException status(Status status, String message) {
    return status.withDescription(message).asException();
  }
}
