package lanner.forward;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import org.msgpack.value.ExtensionValue;
import org.msgpack.value.Value;

/**
 * JSON text for MessagePack values. Written here rather than with msgpack-core's toJson because
 * tests compare field values: strings and binaries both become JSON strings (fluent-logger-golang
 * sends []byte as bin), non-finite floats become null (JSON has no NaN), map keys become strings,
 * and extension values become {"ext": type, "base64": data}.
 */
final class Json {
  private Json() {}

  static void value(StringBuilder sb, Value v) {
    switch (v.getValueType()) {
      case NIL:
        sb.append("null");
        break;
      case BOOLEAN:
        sb.append(v.asBooleanValue().getBoolean());
        break;
      case INTEGER:
        sb.append(v.asIntegerValue().toBigInteger());
        break;
      case FLOAT:
        double d = v.asFloatValue().toDouble();
        if (Double.isFinite(d)) {
          sb.append(d);
        } else {
          sb.append("null");
        }
        break;
      case STRING:
      case BINARY:
        string(sb, new String(v.asRawValue().asByteArray(), StandardCharsets.UTF_8));
        break;
      case ARRAY:
        sb.append('[');
        boolean first = true;
        for (Value e : v.asArrayValue()) {
          if (!first) {
            sb.append(',');
          }
          first = false;
          value(sb, e);
        }
        sb.append(']');
        break;
      case MAP:
        sb.append('{');
        boolean firstKey = true;
        for (Map.Entry<Value, Value> e : v.asMapValue().entrySet()) {
          if (!firstKey) {
            sb.append(',');
          }
          firstKey = false;
          Value k = e.getKey();
          if (k.isRawValue()) {
            string(sb, new String(k.asRawValue().asByteArray(), StandardCharsets.UTF_8));
          } else {
            StringBuilder ks = new StringBuilder();
            value(ks, k);
            string(sb, ks.toString());
          }
          sb.append(':');
          value(sb, e.getValue());
        }
        sb.append('}');
        break;
      case EXTENSION:
        ExtensionValue x = v.asExtensionValue();
        sb.append("{\"ext\":").append(x.getType()).append(",\"base64\":");
        string(sb, Base64.getEncoder().encodeToString(x.getData()));
        sb.append('}');
        break;
      default:
        sb.append("null");
    }
  }

  static void string(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"':
          sb.append("\\\"");
          break;
        case '\\':
          sb.append("\\\\");
          break;
        case '\n':
          sb.append("\\n");
          break;
        case '\r':
          sb.append("\\r");
          break;
        case '\t':
          sb.append("\\t");
          break;
        default:
          if (c < 0x20 || c == 0x2028 || c == 0x2029) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
      }
    }
    sb.append('"');
  }
}
