// Reads a JSON array of ServiceMonitor objects on stdin and validates each against the
// monitoring.coreos.com/v1 ServiceMonitor schema of prometheus-operator's CRD, as compiled by
// @kubernetes-models/prometheus-operator: types, required fields, enums and patterns (e.g. a
// duration such as "30s"). Like the CRD's structural schema it does not reject unknown fields.
// Prints one line per object; exit status 1 if any is invalid.
import { readFileSync } from "node:fs";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const objects = JSON.parse(readFileSync(0, "utf8"));
let failed = 0;
for (const object of objects) {
  const name = `${object.kind}/${object.metadata?.name}`;
  try {
    new ServiceMonitor(object).validate();
    console.log(`ok      ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`invalid ${name}: ${error.message}`);
  }
}
process.exit(failed ? 1 : 0);
