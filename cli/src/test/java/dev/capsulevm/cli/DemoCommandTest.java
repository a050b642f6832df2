package dev.capsulevm.cli;

import static dev.capsulevm.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.cli.CliTestSupport.Result;
import org.junit.jupiter.api.Test;

class DemoCommandTest {
  @Test
  void demoRunsAHostVerifiesEverythingCatchesTamperingAndExitsZero() {
    Result r = run("demo", "--sub-records", "200");
    assertEquals(0, r.exitCode(), r.out() + r.err());
    assertTrue(r.out().contains("Merkle root over 200 sub-records"), r.out());
    assertTrue(r.out().contains("100 verified sub-records"), r.out());
    assertTrue(r.out().contains("caught: host misbehaviour in output 0"), r.out());
    assertTrue(r.out().contains("heads on the host are unchanged: true"), r.out());
    assertTrue(r.out().contains("CONVERGED: 5 records verified and stored"), r.out());
    assertTrue(r.out().contains("\"key-123=value-123\" read from the replica, verified"), r.out());
    assertTrue(r.out().contains("the member appended record"), r.out());
    assertTrue(r.out().contains("refused: key ") && r.out().contains("took its bits away"), r.out());
    assertTrue(!r.out().contains("NOT DETECTED") && !r.out().contains("NOT REFUSED"), r.out());
  }

  @Test
  void badSubRecordCountIsAUsageError() {
    assertEquals(2, run("demo", "--sub-records", "0").exitCode());
  }
}
