// X500Check answers, line by line on stdin, what Java's X500Principal makes
// of a name: "N <hex DER>" prints getName() (RFC 2253), "V <string>" prints
// whether the String constructor accepts it. x500_test.go compares Meerkat's
// answers with these.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import javax.security.auth.x500.X500Principal;

public class X500Check {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null;) {
            String arg = line.substring(2);
            String out;
            if (line.startsWith("N ")) {
                try {
                    out = new X500Principal(HexFormat.of().parseHex(arg)).getName();
                } catch (IllegalArgumentException e) {
                    out = "ERROR";
                }
            } else {
                try {
                    new X500Principal(arg);
                    out = "valid";
                } catch (IllegalArgumentException e) {
                    out = "invalid";
                }
            }
            System.out.println(out.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r"));
        }
    }
}
