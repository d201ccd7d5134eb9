// ESLint (flat config): typescript-eslint's type-checked rules and React's hook rules.
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

const floatMoney =
  "money and prices are integers in minor units (bigint) or decimal strings: see src/lib/decimal.ts";

export default tseslint.config(
  { ignores: ["dist", "node_modules"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  reactHooks.configs.flat["recommended-latest"],
  {
    languageOptions: {
      globals: globals.browser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "no-restricted-globals": ["error", { name: "parseFloat", message: floatMoney }],
      "no-restricted-properties": [
        "error",
        { object: "Number", property: "parseFloat", message: floatMoney },
        { property: "toFixed", message: floatMoney },
        { property: "toPrecision", message: floatMoney },
      ],
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true },
      ],
    },
  },
  {
    files: ["eslint.config.js"],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
