from pipeline.local_models import cpu_threads, default_gguf_path, embedding_model_dir, load_embedding_model


def test_embedded_model_files_are_found_offline():
    gguf = default_gguf_path()
    assert gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and gguf.stat().st_size > 50_000_000
    assert (embedding_model_dir() / "config.json").exists()
    assert cpu_threads() >= 1


def test_embedding_model_loads_offline_and_embeds():
    model = load_embedding_model()
    vectors = model.encode(["chest pain radiating to the left arm", "myocardial infarction", "ankle sprain"])
    assert vectors.shape == (3, 384)
    sim = model.similarity(vectors[:1], vectors[1:])[0]
    assert sim[0] > sim[1]
