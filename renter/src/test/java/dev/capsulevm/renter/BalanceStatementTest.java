package dev.capsulevm.renter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.BalanceStatement;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.InstructionPrice;
import dev.capsulevm.pricing.MaxPrices;
import dev.capsulevm.pricing.Prices;
import dev.capsulevm.pricing.SignedBalanceStatement;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.BalanceRequest;
import dev.capsulevm.proto.v1.BalanceResponse;
import dev.capsulevm.proto.v1.GetPriceTableRequest;
import dev.capsulevm.proto.v1.HostGrpc;
import dev.capsulevm.proto.v1.PriceTableResponse;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 13, finding 3 ({@code GetBalance}: 148 of 148 +1 changes were accepted) and finding 4's forged
 * price table, against a stand-in host over real gRPC that serves a price table and balance replies the
 * test controls. A balance is now a host-signed statement; the SDK checks the signature under the
 * table's host key, the account, the time, and that the reply's unsigned fields agree with it.
 */
class BalanceStatementTest {
  private final SigningKey hostKey = SigningKey.generate();
  private final SigningKey account = SigningKey.generate();
  private final ScriptedHost clockSource = new ScriptedHost();
  private final Amount amount = Amount.of(123_456_789);
  private volatile byte[] table = ScriptedHost.table(hostKey).sign(hostKey).encode();
  private volatile UnaryOperator<BalanceResponse> change = r -> r;
  private Server server;
  private HostClient client;

  @BeforeEach
  void start() throws Exception {
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(new HostGrpc.HostImplBase() {
      @Override
      public void getPriceTable(GetPriceTableRequest request, StreamObserver<PriceTableResponse> out) {
        out.onNext(PriceTableResponse.newBuilder().setSignedPriceTable(ByteString.copyFrom(table)).build());
        out.onCompleted();
      }

      @Override
      public void getBalance(BalanceRequest request, StreamObserver<BalanceResponse> out) {
        out.onNext(change.apply(honest(request.getAccount())));
        out.onCompleted();
      }
    }).build().start();
    client = connect(RenterOptions.defaults());
  }

  private HostClient connect(RenterOptions options) {
    return HostClient.connect("127.0.0.1:" + server.getPort(), account, options.withClock(clockSource.clock));
  }

  @AfterEach
  void stop() throws Exception {
    client.close();
    server.shutdownNow().awaitTermination();
  }

  private BalanceResponse honest(ByteString accountBytes) {
    return response(accountBytes, statement(ScriptedHost.NOW, amount), hostKey);
  }

  private BalanceStatement statement(Instant at, Amount balance) {
    return new BalanceStatement(hostKey.publicKey(), at, account.publicKey(), balance, Hash.copyOf(new byte[] {
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
        31, 32}));
  }

  private static BalanceResponse response(ByteString accountBytes, BalanceStatement statement, SigningKey signer) {
    SignedBalanceStatement signed = new SignedBalanceStatement(statement,
        new BalanceStatement(signer.publicKey(), statement.issuedAt(), statement.account(), statement.balance(),
            statement.lastProgramIdOrNull()).sign(signer).signature());
    return BalanceResponse.newBuilder().setAccount(accountBytes).setBalance(statement.balance().units())
        .setSignedStatement(ByteString.copyFrom(signed.encode())).build();
  }

  private void expectCaught(String what, UnaryOperator<BalanceResponse> tamper) {
    change = tamper;
    HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, client::balance, what);
    assertEquals(HostMisbehaviourException.Part.BALANCE, e.part(), what);
    change = r -> r;
  }

  @Test
  void anHonestStatementGivesTheBalance() throws Exception {
    assertEquals(amount, client.balance());
    SignedBalanceStatement statement = client.balanceStatement();
    assertEquals(account.publicKey(), statement.statement().account());
    assertEquals(statement.statement(), statement.verify(hostKey.publicKey()));
  }

  @Test
  void everyUnsignedFieldPlusOneAndEveryStatementBitIsCaught() {
    expectCaught("balance + 1", r -> r.toBuilder().setBalance(r.getBalance() + 1).build());
    expectCaught("balance - 1", r -> r.toBuilder().setBalance(r.getBalance() - 1).build());
    expectCaught("account", r -> r.toBuilder().setAccount(flip(r.getAccount(), 0)).build());
    expectCaught("no statement (a host before statements)", r -> r.toBuilder().clearSignedStatement().build());
    int length = SignedBalanceStatement.LENGTH;
    for (int p = 0; p < length; p++) {
      int position = p;
      expectCaught("statement byte " + p, r -> r.toBuilder().setSignedStatement(flip(r.getSignedStatement(),
          position)).build());
    }
  }

  @Test
  void aStatementSignedByTheHostButWrongIsCaught() {
    PublicKey other = SigningKey.generate().publicKey();
    expectCaught("another account", r -> response(r.getAccount(), new BalanceStatement(hostKey.publicKey(),
        ScriptedHost.NOW, other, amount, null), hostKey));
    expectCaught("6 minutes old", r -> response(r.getAccount(),
        statement(ScriptedHost.NOW.minus(Duration.ofMinutes(6)), amount), hostKey));
    expectCaught("6 minutes ahead", r -> response(r.getAccount(),
        statement(ScriptedHost.NOW.plus(Duration.ofMinutes(6)), amount), hostKey));
    SigningKey impostor = SigningKey.generate();
    expectCaught("signed by another key, naming the host", r -> response(r.getAccount(),
        statement(ScriptedHost.NOW, amount), impostor));
    expectCaught("another host naming itself", r -> {
      BalanceStatement s = new BalanceStatement(impostor.publicKey(), ScriptedHost.NOW, account.publicKey(), amount,
          null);
      return BalanceResponse.newBuilder().setAccount(r.getAccount()).setBalance(amount.units())
          .setSignedStatement(ByteString.copyFrom(s.sign(impostor).encode())).build();
    });
  }

  @Test
  void aStatementWithinTheClockToleranceIsAccepted() throws Exception {
    change = r -> response(r.getAccount(), statement(ScriptedHost.NOW.minus(Duration.ofMinutes(5)), amount), hostKey);
    assertEquals(amount, client.balance());
  }

  /** A table not signed by the key it names is forged: misbehaviour, where it was a refusal. */
  @Test
  void aForgedPriceTableIsMisbehaviourAndAnExpensiveOneARefusal() throws Exception {
    byte[] forged = ScriptedHost.table(hostKey).sign(hostKey).encode();
    forged[forged.length - 1] ^= 1; // the signature no longer verifies under the key the table names
    table = forged;
    try (HostClient fresh = connect(RenterOptions.defaults())) {
      HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, fresh::priceTable);
      assertEquals(HostMisbehaviourException.Part.PRICE_TABLE, e.part());
    }
    table = ScriptedHost.table(hostKey).sign(hostKey).encode();
    try (HostClient expecting = connect(RenterOptions.defaults().withExpectedHostKey(
        SigningKey.generate().publicKey()))) {
      HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, expecting::priceTable);
      assertEquals(HostMisbehaviourException.Part.PRICE_TABLE, e.part());
    }
    Map<InstructionKind, InstructionPrice> m = new EnumMap<>(InstructionKind.class);
    for (InstructionKind k : InstructionKind.values()) {
      m.put(k, InstructionPrice.of(1, 1));
    }
    Amount one = Amount.of(1);
    try (HostClient cheap = connect(RenterOptions.defaults().withMaxPrices(
        new MaxPrices(new Prices(one, one, m, one, one, one, one))))) {
      assertThrows(PriceTableRefusedException.class, cheap::priceTable);
    }
  }

  private static ByteString flip(ByteString bytes, int position) {
    byte[] copy = bytes.toByteArray();
    copy[position] ^= 1;
    return ByteString.copyFrom(copy);
  }
}
