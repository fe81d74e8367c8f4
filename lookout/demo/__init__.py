"""The generated demo dataset: `scenes` draws it, `annotations` adds the models' results,
`loader` stores it through the services (`lookout demo`, `lookout serve --demo`)."""
