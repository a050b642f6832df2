package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.server.TestHost.ProgramBuilder;
import dev.capsulevm.host.server.TestHost.Run;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.BalanceStatement;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.pricing.SignedBalanceStatement;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.ProgramEncoding;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.BalanceRequest;
import dev.capsulevm.proto.v1.BalanceResponse;
import dev.capsulevm.proto.v1.FundRequest;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GetBalance and Admin.Fund return the host's signed balance statement: it verifies under the host's key,
 * states the balance fields 1 and 2 repeat, and names the last program settled against the account
 * (whose refund is in the balance), across a restart too.
 */
class BalanceStatementServiceTest {
  static final long BUDGET = 50_000_000;

  @TempDir
  Path dir;

  private static BalanceResponse getBalance(TestHost t, SigningKey account) {
    return t.blocking.getBalance(BalanceRequest.newBuilder()
        .setAccount(ByteString.copyFrom(account.publicKey().toByteArray())).build());
  }

  /** The statement of {@code response}, verified, after checking it states what fields 1 and 2 say. */
  private static BalanceStatement verified(BalanceResponse response, PublicKey hostKey, SigningKey account)
      throws Exception {
    BalanceStatement statement =
        SignedBalanceStatement.parse(response.getSignedStatement().toByteArray()).verify(hostKey);
    assertEquals(account.publicKey(), statement.account());
    assertArrayEquals(account.publicKey().toByteArray(), response.getAccount().toByteArray());
    assertEquals(response.getBalance(), statement.balance().units());
    Instant now = Instant.now();
    assertTrue(!statement.issuedAt().isBefore(now.minus(Duration.ofMinutes(5)))
        && !statement.issuedAt().isAfter(now.plus(Duration.ofMinutes(5))), "issued now: " + statement.issuedAt());
    return statement;
  }

  private static Run run(TestHost t, ProgramBuilder program, PriceTable table, byte[] withdrawal) throws Exception {
    TestHost.Stream s = t.open();
    s.send(TestHost.header(program.encoded(), table, withdrawal, 1));
    if (program.bytes().length > 0) {
      s.send(TestHost.data(program.bytes(), 0, program.bytes().length));
    }
    return TestHost.finish(s, true);
  }

  @Test
  void statementsAreSignedAndNameTheLastProgramSettled() throws Exception {
    SigningKey account = SigningKey.generate();
    CapsuleFixture f = new CapsuleFixture("statements");
    Hash lastId;
    try (TestHost t = new TestHost(TestHost.config(dir))) {
      PublicKey hostKey = t.host.hostKey();
      BalanceStatement never = verified(getBalance(t, account), hostKey, account);
      assertEquals(Amount.ZERO, never.balance());
      assertNull(never.lastProgramIdOrNull(), "an account never seen");

      BalanceResponse funded = t.admin.fund(FundRequest.newBuilder()
          .setAccount(ByteString.copyFrom(account.publicKey().toByteArray())).setAmount(1_000_000_000L).build());
      BalanceStatement afterFund = verified(funded, hostKey, account);
      assertEquals(1_000_000_000L, afterFund.balance().units());
      assertNull(afterFund.lastProgramIdOrNull(), "a deposit settles no program");
      PriceTable table = t.table().table();

      // A committed program: its refund is credited with its writes, and it becomes the last program.
      RecordWithBody r1 = f.record(List.of(f.id()), "one", 1);
      ProgramBuilder create = new ProgramBuilder(f.id());
      create.add(new Instruction.CreateCapsule(create.put(f.metadata.encoded())));
      create.add(new Instruction.AppendRecord(create.put(AppendEncoding.encode(List.of(r1)))));
      byte[] w1 = TestHost.withdrawal(account, table, BUDGET);
      Run committed = run(t, create, table, w1);
      assertEquals(Status.Code.OK, committed.status().getCode(), committed.status().toString());
      BalanceStatement afterCommit = verified(getBalance(t, account), hostKey, account);
      assertEquals(ProgramEncoding.programId(create.encoded(), w1), afterCommit.lastProgramIdOrNull());
      assertEquals(t.balance(account), afterCommit.balance().units());

      // A read-only program, refunded through the ledger.
      ProgramBuilder heads = new ProgramBuilder(f.id());
      heads.add(new Instruction.Heads());
      byte[] w2 = TestHost.withdrawal(account, table, BUDGET);
      Run read = run(t, heads, table, w2);
      assertEquals(Status.Code.OK, read.status().getCode(), read.status().toString());
      BalanceStatement afterRead = verified(getBalance(t, account), hostKey, account);
      assertEquals(ProgramEncoding.programId(heads.encoded(), w2), afterRead.lastProgramIdOrNull());
      assertEquals(afterCommit.balance().minus(read.receipt().receipt().finalCost()), afterRead.balance(),
          "the balance holds the last program's refund");

      // A failed program is settled too.
      byte[] unknown = new byte[32];
      Arrays.fill(unknown, (byte) 9);
      ProgramBuilder missing = new ProgramBuilder(Hash.copyOf(unknown));
      missing.add(new Instruction.Heads());
      byte[] w3 = TestHost.withdrawal(account, table, BUDGET);
      assertEquals(Status.Code.NOT_FOUND, run(t, missing, table, w3).status().getCode());
      BalanceStatement afterFailure = verified(getBalance(t, account), hostKey, account);
      lastId = ProgramEncoding.programId(missing.encoded(), w3);
      assertEquals(lastId, afterFailure.lastProgramIdOrNull());

      // A statement with a changed byte does not verify.
      byte[] tampered = getBalance(t, account).getSignedStatement().toByteArray();
      tampered[80] ^= 1; // the balance's last byte
      SignedBalanceStatement forged = SignedBalanceStatement.parse(tampered);
      assertEquals(PricingException.Reason.BAD_SIGNATURE,
          assertThrows(PricingException.class, () -> forged.verify(hostKey)).reason());
      assertEquals(PricingException.Reason.WRONG_HOST, assertThrows(PricingException.class,
          () -> SignedBalanceStatement.parse(getBalance(t, account).getSignedStatement().toByteArray())
              .verify(SigningKey.generate().publicKey())).reason());
    }

    // The ledger keeps the last program beside the balance: a restart still names it.
    try (TestHost again = new TestHost(TestHost.config(dir))) {
      assertEquals(lastId, verified(getBalance(again, account), again.host.hostKey(), account).lastProgramIdOrNull());
    }
  }
}
