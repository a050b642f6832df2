package dev.capsulevm.renter;

import com.google.protobuf.ByteString;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.ExchangeKeyPair;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.SessionGrant;
import dev.capsulevm.pricing.SessionKey;
import dev.capsulevm.pricing.SessionRequest;
import dev.capsulevm.pricing.SignedSessionGrant;
import dev.capsulevm.pricing.SignedSessionRequest;
import dev.capsulevm.pricing.Ticket;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.CloseSessionRequest;
import dev.capsulevm.proto.v1.CloseSessionResponse;
import dev.capsulevm.proto.v1.HostGrpc;
import dev.capsulevm.proto.v1.OpenSessionRequest;
import dev.capsulevm.proto.v1.OpenSessionResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * The payment sessions of one {@link HostClient} (docs/PROTOCOL.md, "Payment sessions"): at most one is
 * open for new programs at a time, opened before the first program that needs it. Each program is paid by
 * a {@link Ticket} holding its budget from the renter's own view of the session's remainder (the amount,
 * less the budgets of programs in flight, less what verified receipts say their programs cost), which is
 * never above the host's (the host holds a budget later and gives the refund back earlier). A session
 * that cannot pay the next program, that expires within {@link #renewMargin}, whose price table is no
 * longer the client's, or that the host refused a ticket of, is retired: new programs go to a new session,
 * and the old one is closed at once (its programs still running run on: each gives its unspent budget back
 * to the account as it ends; a session the host forgot is not closed). Thread-safe.
 */
final class PaymentSessions {
  private final HostClient client;
  private final HostGrpc.HostBlockingStub blocking;
  private final HostGrpc.HostStub async;
  private final SigningKey accountKey;
  private final Amount amount;
  private final Duration lifetime;
  private final Clock clock;
  private final SecureRandom random = new SecureRandom();
  /** Close calls sent and not yet answered, so {@link #close} can wait for them. */
  private final List<CompletableFuture<CloseSessionResponse>> closing = new ArrayList<>();
  /** The session new programs draw on; null before the first, after a retirement, and once closed. */
  private @Nullable Session current;
  private boolean closed;
  private long opened;

  PaymentSessions(HostClient client, HostGrpc.HostBlockingStub blocking, HostGrpc.HostStub async,
      SigningKey accountKey, Amount amount, Duration lifetime, Clock clock) {
    this.client = client;
    this.blocking = blocking;
    this.async = async;
    this.accountKey = accountKey;
    this.amount = amount;
    this.lifetime = lifetime;
    this.clock = clock;
  }

  /** How long before its expiry a session takes no more programs: a quarter of its lifetime, at most a minute. */
  static Duration renewMargin(Duration lifetime) {
    Duration quarter = lifetime.dividedBy(4);
    return quarter.compareTo(Duration.ofMinutes(1)) < 0 ? quarter : Duration.ofMinutes(1);
  }

  /**
   * A ticket paying {@code budget} for the program encoded as {@code programEncoding} under {@code table},
   * from the current session, or from a new one when it cannot pay; null when {@code budget} is above
   * what a session holds (the program is then paid by its own withdrawal). {@code sealReceipt}: the
   * program asks for its receipt sealed with the session's key rather than signed.
   *
   * @throws HostMisbehaviourException the host's grant of a new session does not verify
   * @throws RenterException the host refused to open a session, or this client is closed
   */
  @Nullable Payment pay(PriceTable table, Amount budget, byte[] programEncoding, boolean sealReceipt)
      throws RenterException {
    if (budget.exceeds(amount)) {
      return null;
    }
    Session session;
    long counter;
    synchronized (this) {
      if (closed) {
        throw new RenterException("the client is closed: no payment session is opened any more");
      }
      Session held = current;
      counter = held == null ? -1 : held.hold(table, budget, clock.instant());
      if (held != null && counter >= 0) {
        session = held;
      } else {
        if (held != null) {
          current = null;
          held.retire();
        }
        // Under this lock: concurrent programs wait for the session rather than each opening one.
        session = open(table);
        current = session;
        counter = session.hold(table, budget, clock.instant());
        if (counter < 0) {
          throw new IllegalStateException("a new session of " + amount + " cannot pay " + budget);
        }
      }
    }
    // The MAC is computed outside the lock: concurrent programs only share the counter.
    return Payment.ticket(Ticket.issue(session.key, session.id, counter, budget, programEncoding), session,
        sealReceipt);
  }

  /** Sessions opened so far by this client (tests and benchmarks). */
  synchronized long opened() {
    return opened;
  }

  /** The session new programs draw on, or null (tests). */
  synchronized @Nullable Session currentOrNull() {
    return current;
  }

  private Session open(PriceTable table) throws RenterException {
    ExchangeKeyPair exchange = ExchangeKeyPair.generate();
    Instant expiry = Instant.ofEpochSecond(clock.instant().plus(lifetime).getEpochSecond());
    SignedSessionRequest request = new SessionRequest(accountKey.publicKey(), amount, random.nextLong() & Long.MAX_VALUE,
        expiry, table.id(), table.hostKey(), exchange.publicKey()).sign(accountKey);
    Hash id = request.sessionId();
    OpenSessionRequest message = OpenSessionRequest.newBuilder()
        .setSignedSessionRequest(ByteString.copyFrom(request.encode())).build();
    OpenSessionResponse response;
    try {
      response = client.unary("cannot open a payment session of " + amount + " units",
          () -> blocking.withDeadlineAfter(client.callDeadlineNanos(), TimeUnit.NANOSECONDS).openSession(message));
    } catch (RenterException e) {
      if (e.getCause() instanceof StatusRuntimeException refusal
          && refusal.getStatus().getCode() == Status.Code.FAILED_PRECONDITION) {
        throw new OpenRefused(e); // the table ended there, or the balance is too low
      }
      throw e;
    }
    SessionKey key;
    try {
      SessionGrant grant = SignedSessionGrant.parse(response.getSignedSessionGrant().toByteArray())
          .verify(table.hostKey(), id);
      key = SessionKey.forRenter(exchange, request, grant);
    } catch (VerificationException e) {
      // The host may hold the amount until the request expires; nothing is paid from a session not verified.
      throw new HostMisbehaviourException(HostMisbehaviourException.Part.SESSION, -1, e.getMessage(), e);
    }
    opened++;
    return new Session(id, key, table.id(), expiry.minus(renewMargin(lifetime)), amount);
  }

  /**
   * Retires the current session, which closes it (its programs still running are the host's to settle),
   * then waits up to {@code bound} for every close sent to be answered. Best effort: a close that fails or
   * times out leaves the session to expire at the host, which then releases what it holds.
   */
  void close(Duration bound) {
    Session session;
    synchronized (this) {
      closed = true;
      session = current;
      current = null;
    }
    if (session != null) {
      session.retire();
    }
    List<CompletableFuture<CloseSessionResponse>> pending;
    synchronized (closing) {
      pending = new ArrayList<>(closing);
    }
    try {
      CompletableFuture.allOf(pending.toArray(new CompletableFuture<?>[0])).get(bound.toNanos(), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // best effort: the host releases the session's amount when it expires
    }
  }

  /** Sends the close of {@code session}, answered asynchronously (never blocks: it may run in a gRPC thread). */
  private void sendClose(Session session) {
    CompletableFuture<CloseSessionResponse> answered = new CompletableFuture<>();
    synchronized (closing) {
      closing.removeIf(CompletableFuture::isDone);
      closing.add(answered);
    }
    session.closeAnswer = answered;
    CloseSessionRequest request = CloseSessionRequest.newBuilder()
        .setSessionId(ByteString.copyFrom(session.id.toByteArray()))
        .setMac(ByteString.copyFrom(session.key.closeMac(session.id))).build();
    try {
      async.withDeadlineAfter(client.callDeadlineNanos(), TimeUnit.NANOSECONDS).closeSession(request,
          new StreamObserver<>() {
            @Override
            public void onNext(CloseSessionResponse response) {
              answered.complete(response);
            }

            @Override
            public void onError(Throwable t) {
              answered.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
              answered.completeExceptionally(new IllegalStateException("no answer to CloseSession"));
            }
          });
    } catch (RuntimeException e) {
      answered.completeExceptionally(e); // the channel is shut down
    }
  }

  /**
   * The host refused to open a session with FAILED_PRECONDITION: the price table it names is no longer
   * acceptable there (the client fetches the current one and tries once more), or the account's balance
   * is below the session's amount.
   */
  static final class OpenRefused extends RenterException {
    private static final long serialVersionUID = 1L;

    OpenRefused(RenterException refusal) {
      super(String.valueOf(refusal.getMessage()), refusal.getCause());
    }
  }

  /** One payment session as the renter sees it. */
  final class Session {
    final Hash id;
    final SessionKey key;
    private final Hash priceTableId;
    /** The instant from which the session takes no more programs. */
    private final Instant renewAt;
    private final AtomicLong counter = new AtomicLong();
    /** The amount less the budgets held and the verified costs; guarded by this. */
    private Amount remainder;
    /** Programs paid and not yet ended (tests). */
    private int inFlight;
    private boolean retired;
    /** The host said it does not know the session: there is nothing to close. */
    private boolean forgotten;
    private boolean closeSent;
    /** The host's answer to the close, once sent (tests). */
    volatile @Nullable CompletableFuture<CloseSessionResponse> closeAnswer;

    private Session(Hash id, SessionKey key, Hash priceTableId, Instant renewAt, Amount amount) {
      this.id = id;
      this.key = key;
      this.priceTableId = priceTableId;
      this.renewAt = renewAt;
      this.remainder = amount;
    }

    /**
     * Holds {@code budget} for a program under {@code table} at {@code now} and returns the ticket's counter,
     * or -1 when this session cannot pay it (retired, another table, about to expire, or too little left).
     */
    synchronized long hold(PriceTable table, Amount budget, Instant now) {
      if (retired || !table.id().equals(priceTableId) || !now.isBefore(renewAt) || budget.exceeds(remainder)) {
        return -1;
      }
      remainder = remainder.minus(budget);
      inFlight++;
      return counter.getAndIncrement();
    }

    /**
     * A program of this session ended: {@code back} of its budget returns to the remainder. A refusal
     * other than "busy" ({@code refusalOrNull}) retires the session; NOT_FOUND says the host forgot it.
     */
    void settle(Amount back, Status.@Nullable Code refusalOrNull) {
      boolean close;
      synchronized (this) {
        remainder = remainder.plus(back);
        inFlight--;
        if (refusalOrNull != null && refusalOrNull != Status.Code.RESOURCE_EXHAUSTED
            && refusalOrNull != Status.Code.UNAVAILABLE) {
          forgotten |= refusalOrNull == Status.Code.NOT_FOUND;
          retired = true;
        }
        close = readyToClose();
      }
      if (close) {
        sendClose(this);
      }
    }

    /** No more programs: closed at once, so the host's per-account bound on open sessions is not reached. */
    void retire() {
      boolean close;
      synchronized (this) {
        retired = true;
        close = readyToClose();
      }
      if (close) {
        sendClose(this);
      }
    }

    private boolean readyToClose() {
      if (!retired || closeSent || forgotten) {
        return false;
      }
      closeSent = true;
      return true;
    }

    synchronized boolean retired() {
      return retired;
    }

    synchronized int inFlight() {
      return inFlight;
    }

    /** The renter's view of what is left (tests). */
    synchronized Amount remainder() {
      return remainder;
    }

    @Override
    public String toString() {
      return "payment session " + id;
    }
  }

  @Override
  public String toString() {
    return "payment sessions of " + amount;
  }
}
