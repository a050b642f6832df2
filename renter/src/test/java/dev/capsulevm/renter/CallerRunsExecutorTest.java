package dev.capsulevm.renter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.testing.Await;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class CallerRunsExecutorTest {
  @Test
  void theWaitingThreadRunsTheCallbacksInOrderUntilDone() throws Exception {
    CallerRunsExecutor executor = new CallerRunsExecutor();
    List<String> ran = new CopyOnWriteArrayList<>();
    Thread waiter = Thread.currentThread();
    Thread transport = new Thread(() -> {
      for (int i = 0; i < 3; i++) {
        int n = i;
        executor.execute(() -> ran.add(n + (Thread.currentThread() == waiter ? " waiter" : " other")));
      }
      executor.execute(executor::done);
    });
    transport.start();
    executor.drainUntilDone();
    transport.join();
    assertEquals(List.of("0 waiter", "1 waiter", "2 waiter"), ran);
  }

  @Test
  void callbacksAfterTheEndRunWhereTheyArrive() throws Exception {
    CallerRunsExecutor executor = new CallerRunsExecutor();
    executor.execute(executor::done);
    executor.drainUntilDone();
    AtomicReference<Thread> ranOn = new AtomicReference<>();
    executor.execute(() -> ranOn.set(Thread.currentThread()));
    assertEquals(Thread.currentThread(), ranOn.get());
  }

  @Test
  void anInterruptedWaiterReleasesWhatIsQueued() throws Exception {
    CallerRunsExecutor executor = new CallerRunsExecutor();
    CountDownLatch waiting = new CountDownLatch(1);
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread waiter = new Thread(() -> {
      waiting.countDown();
      try {
        executor.drainUntilDone();
      } catch (InterruptedException e) {
        thrown.set(e);
      }
    });
    waiter.start();
    waiting.await();
    waiter.interrupt();
    waiter.join();
    assertTrue(thrown.get() instanceof InterruptedException, "the waiter saw its interrupt");
    List<String> ran = new CopyOnWriteArrayList<>();
    executor.execute(() -> ran.add("late"));
    Await.until("the late callback ran", () -> ran.equals(List.of("late")));
  }
}
