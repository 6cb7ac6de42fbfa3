package lanner.forward;

import java.util.Locale;

/**
 * How the server answers, switchable at run time (command line at start, control port later), so
 * tests can play a healthy, a slow, an unacknowledging or a crashing Fluentd.
 */
final class Behavior {

  /** What happens to a message once it is decoded. */
  enum Ack {
    /** Store the records, then acknowledge the chunk if the client asked for an ack. */
    ACK,
    /**
     * Refuse: store nothing and never acknowledge; the connection stays open, so the client sees
     * its ack read time out (a Fluentd whose buffer is stuck).
     */
    WITHHOLD,
    /**
     * Store the records but never acknowledge: the client resends and duplicates appear (a
     * Fluentd that crashed after writing its buffer, before the ack).
     */
    STORE_NOACK,
    /** Store nothing and close the connection without an answer (a Fluentd killed mid-request). */
    CLOSE;

    static Ack parse(String s) {
      switch (s.toLowerCase(Locale.ROOT).replace('_', '-')) {
        case "ack":
          return ACK;
        case "withhold":
        case "refuse":
        case "noack":
          return WITHHOLD;
        case "store-noack":
          return STORE_NOACK;
        case "close":
          return CLOSE;
        default:
          throw new IllegalArgumentException(
              "unknown ack mode \"" + s + "\": want ack, withhold, store-noack or close");
      }
    }

    String wire() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
  }

  private volatile Ack ack;
  private volatile long delayMillis;

  Behavior(Ack ack, long delayMillis) {
    this.ack = ack;
    setDelayMillis(delayMillis);
  }

  Ack ack() {
    return ack;
  }

  void setAck(Ack ack) {
    this.ack = ack;
  }

  /** Delay before storing and acknowledging each message (a slow Fluentd). */
  long delayMillis() {
    return delayMillis;
  }

  void setDelayMillis(long ms) {
    if (ms < 0 || ms > 3_600_000L) {
      throw new IllegalArgumentException("delay must be between 0 and 3600000 ms, got " + ms);
    }
    this.delayMillis = ms;
  }
}
