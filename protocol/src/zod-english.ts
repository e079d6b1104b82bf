// English issue messages for the wire schemas, loaded by each module that defines them (an import
// for its effect). zod/mini loads no language of its own, and without one every issue reads
// "Invalid input"; English costs the edge bundle ~3 KB and lets a malformed frame's log line say
// what was wrong. (Re-exporting zod from here instead would defeat the bundle's tree-shaking.)
import { config } from "zod/mini";
import { en } from "zod/locales";

config(en());
