# ruff: noqa
# fmt: off
"""The ML document's `MLPipelineClient`, copied byte for byte (with its imports and example).

Everything after this docstring is the "Complete Python Pipeline" block of the seed document
(seeds/004_25bda5f2129d2ca5.txt), unchanged: tests drive Lookout with it exactly as printed.
"""
import requests
import hmac
import hashlib
import time
import json
from pathlib import Path

class MLPipelineClient:
    def __init__(self, api_url, hmac_secret, api_key=None):
        self.api_url = api_url.rstrip('/')
        self.hmac_secret = hmac_secret
        self.api_key = api_key
        
    def _create_hmac_headers(self, payload):
        """Create HMAC authentication headers."""
        timestamp = str(int(time.time()))
        message = json.dumps(payload, separators=(',', ':'), sort_keys=True)
        
        signature = hmac.new(
            self.hmac_secret.encode('utf-8'),
            message.encode('utf-8'),
            hashlib.sha256
        ).hexdigest()
        
        return {
            'Content-Type': 'application/json',
            'X-ML-Signature': signature,
            'X-ML-Timestamp': timestamp
        }
    
    def _get_user_headers(self):
        """Get user authentication headers."""
        if self.api_key:
            return {'X-API-Key': self.api_key}
        return {}
    
    def create_analysis(self, image_id, model_name, model_version, parameters=None):
        """Step 1: Create a new ML analysis."""
        url = f"{self.api_url}/api/images/{image_id}/analyses"
        payload = {
            'model_name': model_name,
            'model_version': model_version,
            'parameters': parameters or {}
        }
        
        response = requests.post(
            url,
            json=payload,
            headers=self._get_user_headers()
        )
        response.raise_for_status()
        return response.json()
    
    def update_status(self, analysis_id, status):
        """Step 2: Update analysis status."""
        url = f"{self.api_url}/api/analyses/{analysis_id}/status"
        payload = {'status': status}
        
        response = requests.patch(
            url,
            json=payload,
            headers=self._create_hmac_headers(payload)
        )
        response.raise_for_status()
        return response.json()
    
    def request_presigned_urls(self, analysis_id, artifacts):
        """Step 3: Request presigned URLs for artifact uploads."""
        url = f"{self.api_url}/api/analyses/{analysis_id}/artifacts/presign"
        payload = {'artifacts': artifacts}
        
        response = requests.post(
            url,
            json=payload,
            headers=self._create_hmac_headers(payload)
        )
        response.raise_for_status()
        return response.json()
    
    def upload_artifact(self, presigned_url, file_path, content_type):
        """Step 4: Upload artifact to S3 using presigned URL."""
        with open(file_path, 'rb') as f:
            response = requests.put(
                presigned_url,
                data=f,
                headers={'Content-Type': content_type}
            )
        response.raise_for_status()
    
    def submit_annotations(self, analysis_id, annotations):
        """Step 5: Submit annotations in bulk."""
        url = f"{self.api_url}/api/analyses/{analysis_id}/annotations:bulk"
        payload = {'annotations': annotations}
        
        response = requests.post(
            url,
            json=payload,
            headers=self._create_hmac_headers(payload)
        )
        response.raise_for_status()
        return response.json()
    
    def finalize_analysis(self, analysis_id, status='completed', summary=None):
        """Step 6: Finalize the analysis."""
        url = f"{self.api_url}/api/analyses/{analysis_id}/finalize"
        payload = {
            'status': status,
            'summary': summary or {}
        }
        
        response = requests.post(
            url,
            json=payload,
            headers=self._create_hmac_headers(payload)
        )
        response.raise_for_status()
        return response.json()

def run_ml_analysis(image_id, image_path):
    """Complete ML analysis workflow example."""
    client = MLPipelineClient(
        api_url='http://localhost:8000',
        hmac_secret='your-hmac-secret',
        api_key='your-api-key'
    )
    
    # Step 1: Create analysis
    print("Creating analysis...")
    analysis = client.create_analysis(
        image_id=image_id,
        model_name='yolo_v8',
        model_version='v8.0.0',
        parameters={'confidence_threshold': 0.5}
    )
    analysis_id = analysis['id']
    print(f"Analysis created: {analysis_id}")
    
    # Step 2: Update to processing
    print("Updating status to processing...")
    client.update_status(analysis_id, 'processing')
    
    # Run your ML model here
    # results = run_yolo_model(image_path)
    
    # Step 3 & 4: Upload artifacts
    print("Uploading artifacts...")
    artifacts = [
        {'artifact_name': 'detections.png', 'content_type': 'image/png'}
    ]
    presigned = client.request_presigned_urls(analysis_id, artifacts)
    
    for url_info in presigned['presigned_urls']:
        # Generate visualization
        # create_detection_visualization(results, 'detections.png')
        client.upload_artifact(
            url_info['upload_url'],
            'detections.png',
            'image/png'
        )
    
    # Step 5: Submit annotations
    print("Submitting annotations...")
    annotations = [
        {
            'annotation_type': 'bounding_box',
            'class_name': 'person',
            'confidence': 0.95,
            'data': {'bbox': [100, 150, 50, 100], 'format': 'xywh'}
        }
    ]
    client.submit_annotations(analysis_id, annotations)
    
    # Step 6: Finalize
    print("Finalizing analysis...")
    client.finalize_analysis(
        analysis_id,
        status='completed',
        summary={'total_detections': len(annotations)}
    )
    
    print("Analysis complete!")

# Run the pipeline
if __name__ == '__main__':
    run_ml_analysis(
        image_id='your-image-id',
        image_path='/path/to/image.jpg'
    )
